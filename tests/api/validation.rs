//! Every class of bad input gets a problem naming the bad field, a 4xx status, and
//! writes nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, expect_json, expect_problem, problem_fields};

async fn post_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.request(reqwest::Method::POST, path, token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn user_count(app: &TestApp, t: &TestTenant) -> usize {
    app.all_users(t).await.len()
}

fn valid_user() -> Value {
    json!({"email": "ok@acme.com", "firstName": "Ok", "lastName": "User"})
}

#[tokio::test]
async fn malformed_json_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    for body in [
        "{",
        "{\"email\": }",
        "",
        "[1, 2",
        "{\"email\": \"a@b.co\"} trailing",
        "null",
    ] {
        let problem = expect_problem(
            post_raw(&app, &users, &t.admin, "application/json", body).await,
            400,
        )
        .await;
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:roster:problem:"),
            "{problem}"
        );
    }
    assert_eq!(user_count(&app, &t).await, 0);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_unsupported() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    expect_problem(
        post_raw(
            &app,
            &users,
            &t.admin,
            "text/plain",
            valid_user().to_string(),
        )
        .await,
        415,
    )
    .await;
    let no_type = app
        .request(reqwest::Method::POST, &users, &t.admin)
        .body(valid_user().to_string())
        .send()
        .await
        .unwrap();
    expect_problem(no_type, 415).await;
    // JSON with another media type suffix, such as merge-patch, is JSON.
    let merge = post_raw(
        &app,
        &users,
        &t.admin,
        "application/merge-patch+json; charset=utf-8",
        valid_user().to_string(),
    )
    .await;
    assert_eq!(merge.status(), 201);
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_are_named() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let cases = [
        (
            json!({"email": 5, "firstName": "a", "lastName": "b"}),
            "email",
        ),
        (
            json!({"email": "a@b.co", "firstName": ["a"], "lastName": "b"}),
            "firstName",
        ),
        (
            json!({"email": "a@b.co", "firstName": "a", "lastName": "b", "role": true}),
            "role",
        ),
        (json!({"firstName": "a", "lastName": "b"}), "email"),
        (
            json!({"email": "a@b.co", "firstName": "a", "lastName": "b", "nickname": "x"}),
            "nickname",
        ),
        (json!(["not", "an", "object"]), ""),
    ];
    for (body, field) in cases {
        let problem = expect_problem(app.post(&users, &t.admin, &body).await, 400).await;
        if field.is_empty() {
            assert!(
                problem_fields(&problem).is_empty() || problem_fields(&problem) == [""],
                "{problem}"
            );
        } else {
            assert_eq!(problem_fields(&problem), [field], "{body}: {problem}");
            assert_eq!(problem["errors"][0]["pointer"], format!("#/{field}"));
        }
    }
    assert_eq!(user_count(&app, &t).await, 0);
}

#[tokio::test]
async fn every_invalid_value_is_named_in_one_reply() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let body = json!({
        "email": "not-an-email",
        "firstName": "x".repeat(201),
        "lastName": "ok",
        "role": "superuser",
        "status": "gone",
        "countryCode": "Germany",
        "phone": "call me",
        "password": "short",
    });
    let problem = expect_problem(app.post(&users, &t.admin, &body).await, 400).await;
    assert_eq!(
        problem_fields(&problem),
        [
            "email",
            "firstName",
            "phone",
            "countryCode",
            "role",
            "status",
            "password"
        ]
    );
    let text = problem.to_string();
    assert!(text.contains("must be one of: admin, member"), "{text}");
    assert!(
        !text.contains("short\""),
        "the password is not echoed: {text}"
    );
    assert_eq!(user_count(&app, &t).await, 0);
}

#[tokio::test]
async fn over_long_strings_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let long_email = format!("{}@acme.com", "a".repeat(250));
    for (body, field) in [
        (
            json!({"email": long_email, "firstName": "a", "lastName": "b"}),
            "email",
        ),
        (
            json!({"email": "a@b.co", "firstName": "a", "lastName": "b".repeat(201)}),
            "lastName",
        ),
        (
            json!({"email": "a@b.co", "firstName": "a", "lastName": "b", "password": "p".repeat(257)}),
            "password",
        ),
    ] {
        let problem = expect_problem(app.post(&users, &t.admin, &body).await, 400).await;
        assert_eq!(problem_fields(&problem), [field]);
    }
    let groups = format!("/v1/tenants/{}/groups", t.id);
    let problem = expect_problem(
        app.post(&groups, &t.admin, &json!({"name": "g".repeat(201)}))
            .await,
        400,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["name"]);
    let problem =
        expect_problem(app.post(&groups, &t.admin, &json!({"name": ""})).await, 400).await;
    assert_eq!(problem_fields(&problem), ["name"]);
    assert_eq!(user_count(&app, &t).await, 0);
}

#[tokio::test]
async fn invalid_emails_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    for email in [
        "",
        "plain",
        "@acme.com",
        "a@",
        "a@localhost",
        "a b@acme.com",
        "a@acme..com",
    ] {
        let body = json!({"email": email, "firstName": "a", "lastName": "b"});
        let problem = expect_problem(app.post(&users, &t.admin, &body).await, 400).await;
        assert_eq!(problem_fields(&problem), ["email"], "{email}");
    }
    assert_eq!(user_count(&app, &t).await, 0);
}

#[tokio::test]
async fn emails_that_differ_only_in_case_are_duplicates() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let original = app.user(&t, "Roger.Rabbit@acme.com").await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let clash = json!({"email": "roger.RABBIT@ACME.COM", "firstName": "a", "lastName": "b"});
    let problem = expect_problem(app.post(&users, &t.admin, &clash).await, 409).await;
    assert_eq!(problem_fields(&problem), ["email"]);
    // Changing another user's email to it clashes too.
    let other = app.user(&t, "jessica@acme.com").await;
    let path = format!("{users}/{}", other["id"].as_str().unwrap());
    expect_problem(
        app.patch(&path, &t.admin, &json!({"email": "ROGER.rabbit@acme.com"}))
            .await,
        409,
    )
    .await;
    let users_now = app.all_users(&t).await;
    assert_eq!(users_now.len(), 2);
    assert_eq!(users_now[0], original);
    // The same email in another tenant is fine.
    let other_tenant = app.tenant().await;
    app.user(&other_tenant, "roger.rabbit@acme.com").await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let app = TestApp::spawn_with(|s| s.http.max_body_bytes = 4096).await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let body =
        json!({"email": "a@b.co", "firstName": "a", "lastName": "b", "company": "c".repeat(5000)});
    expect_problem(app.post(&users, &t.admin, &body).await, 413).await;
    assert_eq!(user_count(&app, &t).await, 0);
}

#[tokio::test]
async fn the_default_body_limit_is_one_mebibyte() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let padding = " ".repeat(1024 * 1024);
    let body =
        format!("{{\"email\": \"a@b.co\", \"firstName\": \"a\", \"lastName\": \"b\"{padding}}}");
    expect_problem(
        post_raw(&app, &users, &t.admin, "application/json", body).await,
        413,
    )
    .await;
}

#[tokio::test]
async fn malformed_ids_in_paths_are_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for path in [
        format!("/v1/tenants/{}/users/not-a-uuid", t.id),
        format!("/v1/tenants/{}/users/12345", t.id),
        format!("/v1/tenants/{}/groups/zzz/members", t.id),
        "/v1/tenants/not-a-uuid/users".to_owned(),
    ] {
        expect_problem(app.get(&path, &t.admin).await, 404).await;
    }
    let problem = expect_problem(
        app.patch(
            &format!("/v1/tenants/{}/users/{}", t.id, uuid::Uuid::now_v7()),
            &t.admin,
            &json!({"defaultGroupId": "nope"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["defaultGroupId"]);
}

#[tokio::test]
async fn bad_query_parameters_are_named() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=AAAA", "cursor"),
        ("status=gone", "status"),
        ("role=root", "role"),
        ("groupId=nope", "groupId"),
        ("email=nope", "email"),
    ] {
        let problem =
            expect_problem(app.get(&format!("{users}?{query}"), &t.admin).await, 400).await;
        assert_eq!(problem_fields(&problem), [field], "{query}");
    }
}

#[tokio::test]
async fn patches_refuse_null_for_required_fields() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = app.user(&t, "a@acme.com").await;
    let path = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        user["id"].as_str().unwrap()
    );
    let problem = expect_problem(
        app.patch(&path, &t.admin, &json!({"email": null, "role": "x"}))
            .await,
        400,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["email", "role"]);
    assert_eq!(expect_json(app.get(&path, &t.admin).await, 200).await, user);
}

/// Sends a request whose body never finishes, and reads what the server answers:
/// the status line's code, the Content-Type and the body.
async fn stalled_request(
    app: &TestApp,
    path: &str,
    authorization: &str,
    content_type: &str,
) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: roster\r\nAuthorization: {authorization}\r\n\
         Content-Type: {content_type}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"a"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut reply),
    )
    .await
    .expect("the server answers a stalled request")
    .unwrap();
    let reply = String::from_utf8(reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

const JSON: &str = "application/json";

#[tokio::test]
async fn a_request_that_takes_too_long_is_answered_in_its_faces_format() {
    let app =
        TestApp::spawn_with(|s| s.http.request_timeout = std::time::Duration::from_millis(300))
            .await;
    let t = app.tenant().await;
    let bearer = format!("Bearer {}", t.admin);

    let (status, content_type, body) =
        stalled_request(&app, &format!("/v1/tenants/{}/users", t.id), &bearer, JSON).await;
    assert_eq!(
        (status, content_type.as_str()),
        (408, "application/problem+json")
    );
    assert_eq!(body["status"], 408);

    let (status, content_type, body) = stalled_request(&app, "/scim/v2/Users", &bearer, JSON).await;
    assert_eq!(
        (status, content_type.as_str()),
        (408, "application/scim+json")
    );
    assert_eq!(body["status"], "408");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );

    let (status, _, body) = stalled_request(&app, "/api/users", &t.admin, JSON).await;
    assert_eq!(status, 408);
    assert_eq!(body["Status"], "Error", "Tyk's envelope: {body}");

    let (status, _, body) = stalled_request(
        &app,
        "/oauth2/token",
        "Basic eDp5",
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(status, 408);
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn error_messages_name_the_field_and_its_json_type_never_a_rust_type() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    for (body, field, detail) in [
        (
            json!({"email": 5, "firstName": "a", "lastName": "b"}),
            "email",
            "expected a string, found the number 5",
        ),
        (
            json!({"email": "a@b.co", "firstName": {"x": 1}, "lastName": "b"}),
            "firstName",
            "expected a string, found an object",
        ),
        (
            json!(["a@b.co", "a", "b"]),
            "",
            "expected a JSON object, found an array",
        ),
    ] {
        let problem = expect_problem(app.post(&users, &t.admin, &body).await, 400).await;
        assert_eq!(problem["errors"][0]["detail"], detail, "{problem}");
        if !field.is_empty() {
            assert_eq!(problem_fields(&problem), [field], "{problem}");
        }
    }
    // A vendor face says the same in its own envelope.
    let dynatrace = expect_json(
        app.post(
            &format!("/iam/v1/accounts/{}/groups", t.id),
            &t.admin,
            &json!([{"name": ["x"]}]),
        )
        .await,
        400,
    )
    .await;
    let violation = &dynatrace["error"]["constraintViolations"][0];
    assert_eq!(violation["path"], "[0].name", "{dynatrace}");
    assert_eq!(
        violation["message"], "expected a string, found an array",
        "{dynatrace}"
    );
    assert_eq!(user_count(&app, &t).await, 0);
}

#[tokio::test]
async fn a_repeated_query_parameter_is_named_on_the_native_face() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let problem = expect_problem(
        app.get(
            &format!("/v1/tenants/{}/users?limit=1&limit=2", t.id),
            &t.admin,
        )
        .await,
        400,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["limit"], "{problem}");
    assert_eq!(problem["errors"][0]["detail"], "is given more than once");
}

/// What the native, SCIM and Tyk faces answer a creation (Tyk's Dashboard says 200).
const CREATED: [u16; 3] = [201, 201, 200];

/// Creates a user with `password` on the native, SCIM and Tyk faces; answers their
/// statuses.
async fn create_with_password(app: &TestApp, t: &TestTenant, password: &str) -> [u16; 3] {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let native = app
        .post(
            &format!("/v1/tenants/{}/users", t.id),
            &t.admin,
            &json!({"email": format!("n{tag}@acme.com"), "firstName": "N", "lastName": "P", "password": password}),
        )
        .await
        .status()
        .as_u16();
    let scim = crate::scim::scim(
        app,
        reqwest::Method::POST,
        "/Users",
        &t.admin,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("s{tag}@acme.com"),
            "name": {"givenName": "S", "familyName": "P"},
            "emails": [{"value": format!("s{tag}@acme.com"), "primary": true}],
            "password": password,
        })),
    )
    .await
    .status()
    .as_u16();
    let tyk = app
        .client
        .post(app.url("/api/users"))
        .header("authorization", &t.admin)
        .json(&json!({"first_name": "T", "last_name": "P", "email_address": format!("t{tag}@acme.com"), "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    [native, scim, tyk]
}

#[tokio::test]
async fn the_password_policy_is_a_setting_every_face_holds_to() {
    let strict = TestApp::spawn().await;
    let t = strict.tenant().await;
    assert_eq!(create_with_password(&strict, &t, "test").await, [400; 3]);
    assert_eq!(
        create_with_password(&strict, &t, "password1").await,
        [400; 3]
    );
    assert_eq!(
        create_with_password(&strict, &t, "correct horse battery staple").await,
        CREATED
    );

    let relaxed = TestApp::spawn_with(|s| {
        s.password_policy = roster::domain::PasswordPolicy::new(4, 0).unwrap();
    })
    .await;
    let t = relaxed.tenant().await;
    assert_eq!(create_with_password(&relaxed, &t, "test").await, CREATED);
    assert_eq!(create_with_password(&relaxed, &t, "abc").await, [400; 3]);
    let document: Value = relaxed
        .client
        .get(relaxed.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        document["components"]["schemas"]["PasswordBody"]["properties"]["password"]["minLength"], 4,
        "the document states the policy in force"
    );
}
