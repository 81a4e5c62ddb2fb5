use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::compat::{assert_same_shape, seed};
use crate::helpers::{OPERATOR_TOKEN, TestApp, TestTenant, create_users, expect_json};

fn account(t: &TestTenant, rest: &str) -> String {
    format!("/iam/v1/accounts/{}{rest}", t.id)
}

/// A request with a JSON body and any method.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, Value) {
    let response = app
        .request(method, path, token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let response = app.get(path, token).await;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Asserts a Dynatrace error of this status and answers its message.
fn expect_error(status: u16, body: &Value, expected: u16) -> String {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], expected, "{body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {body}"))
        .to_owned()
}

/// The paths of an error's constraint violations.
fn violation_paths(body: &Value) -> Vec<String> {
    body["error"]["constraintViolations"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|c| c["path"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The seed's JSON model with example values where the model only names a type: the
/// times as the document's RFC 3339 form, and null for the two times the directory
/// never has for the golden user (no failed sign-in was recorded; no password-reset
/// mail was sent to it). See docs/compat.md.
fn dynatrace_seed() -> Value {
    fn fill(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    let is_time = key.ends_with("At")
                        || key.starts_with("lastSuccessful")
                        || key == "lastFailedLogin";
                    if is_time && v.is_string() {
                        *v = json!("2021-05-02T12:46:27.823Z");
                    } else {
                        fill(v);
                    }
                }
                for never in ["lastFailedLogin", "resetPasswordTokenSentAt"] {
                    if map.contains_key(never) {
                        map.insert(never.into(), Value::Null);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(fill),
            _ => {}
        }
    }
    let mut seed = seed("dynatrace_users_groups.json");
    fill(&mut seed);
    seed
}

/// A user with every field the document shows, in one group, signed in once.
async fn golden_user(app: &TestApp, t: &TestTenant) -> (Value, Value) {
    let user = expect_json(
        app.post(
            &format!("/v1/tenants/{}/users", t.id),
            &t.admin,
            &json!({"email": "jane.brown@company.com", "firstName": "Jane", "lastName": "Brown",
                    "company": "Company", "countryCode": "AT", "password": "correct horse battery"}),
        )
        .await,
        201,
    )
    .await;
    let group = expect_json(
        app.post(
            &format!("/v1/tenants/{}/groups", t.id),
            &t.admin,
            &json!({"name": "Operators", "description": "Runs production",
                    "owner": "SAML", "federatedAttributeValues": ["ops"]}),
        )
        .await,
        201,
    )
    .await;
    let member = app
        .put(
            &format!(
                "/v1/tenants/{}/groups/{}/members/{}",
                t.id,
                group["id"].as_str().unwrap(),
                user["id"].as_str().unwrap()
            ),
            &t.admin,
        )
        .await;
    assert_eq!(member.status(), 204);
    let store = app.store().await;
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.record_successful_login(
            roster::domain::TenantId::parse(&t.id).unwrap(),
            roster::domain::UserId::parse(user["id"].as_str().unwrap()).unwrap(),
            roster::domain::Timestamp::now(),
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    (user, group)
}

#[tokio::test]
async fn dynatrace_users_with_groups_match_the_seed_example() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (user, group) = golden_user(&app, &t).await;
    let (status, body) = get(&app, &account(&t, "/users/groups"), &t.admin).await;
    assert_eq!(status, 200, "{body}");
    assert_same_shape(&body, &dynatrace_seed(), "$");
    let u = &body[0];
    assert_eq!(u["uid"], user["id"]);
    assert_eq!(u["email"], "jane.brown@company.com");
    assert_eq!(
        (&u["name"], &u["surname"]),
        (&json!("Jane"), &json!("Brown"))
    );
    assert_eq!(u["password"], "", "never a hash or secret");
    assert_eq!(
        (&u["company"], &u["countryCode"]),
        (&json!("Company"), &json!("AT"))
    );
    assert_eq!(u["userStatus"], "ACTIVE");
    assert_eq!(u["accountUuids"], json!([t.id]));
    assert_eq!(u["ownerAccountUuid"], t.id);
    assert_eq!(u["type"], "USER");
    assert_eq!(u["dcsActive"], false);
    assert_eq!(u["userLoginMetadata"]["successfulLoginCounter"], 1);
    assert_eq!(u["userLoginMetadata"]["failedLoginCounter"], 0);
    assert_eq!(u["createdAt"], user["createdAt"]);
    let g = &u["groups"][0];
    assert_eq!(g["uuid"], group["id"]);
    assert_eq!(g["groupName"], "Operators");
    assert_eq!(g["owner"], "SAML");
    assert_eq!(g["description"], "Runs production");
    assert_eq!(g["accountUUID"], t.id);
    assert_eq!(g["accountName"], "Acme");
    assert_eq!(g["federatedAttributeValues"], json!(["ops"]));
}

#[tokio::test]
async fn never_set_values_are_null_and_statuses_are_dynatraces() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for (email, status) in [("a@acme.com", "disabled"), ("b@acme.com", "pending")] {
        let body = json!({"email": email, "firstName": "A", "lastName": "B", "status": status});
        expect_json(
            app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
                .await,
            201,
        )
        .await;
    }
    let (_, body) = get(&app, &account(&t, "/users/groups"), &t.admin).await;
    assert_eq!(body[0]["userStatus"], "INACTIVE");
    assert_eq!(body[1]["userStatus"], "PENDING");
    let u = &body[0];
    for field in ["company", "countryCode", "passwordChangedAt"] {
        assert!(u[field].is_null(), "{field}: {u}");
    }
    let login = &u["userLoginMetadata"];
    for field in [
        "lastSuccessfulLogin",
        "lastFailedLogin",
        "resetPasswordTokenSentAt",
        "lastSuccessfulBasicAuthentication",
    ] {
        assert!(login[field].is_null(), "{field}: {login}");
    }
    assert_eq!(u["groups"], json!([]));
}

#[tokio::test]
async fn numbered_pages_cover_every_user_exactly_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let created: HashSet<String> = create_users(&app, &t, "p", 1003)
        .await
        .into_iter()
        .collect();
    let mut seen = Vec::new();
    for number in 1..=11 {
        let path = account(
            &t,
            &format!("/users/groups?pageNumber={number}&pageSize=100"),
        );
        let (status, page) = get(&app, &path, &t.admin).await;
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().unwrap();
        assert_eq!(page.len(), if number == 11 { 3 } else { 100 });
        seen.extend(page.iter().map(|u| u["uid"].as_str().unwrap().to_owned()));
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 1003);
    assert_eq!(unique, created);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "pages follow user id order");
    // Defaults: page 1 of 100; the largest page is 1000; past the end is empty.
    let (_, first) = get(&app, &account(&t, "/users/groups"), &t.admin).await;
    assert_eq!(first.as_array().unwrap().len(), 100);
    assert_eq!(first[0]["uid"].as_str().unwrap(), seen[0]);
    let (_, big) = get(
        &app,
        &account(&t, "/users/groups?pageNumber=2&pageSize=1000"),
        &t.admin,
    )
    .await;
    assert_eq!(big.as_array().unwrap().len(), 3);
    let (status, past) = get(&app, &account(&t, "/users/groups?pageNumber=99"), &t.admin).await;
    assert_eq!((status, past), (200, json!([])));
}

#[tokio::test]
async fn bad_page_parameters_are_400() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for (query, parameter) in [
        ("pageNumber=0", "pageNumber"),
        ("pageNumber=-1", "pageNumber"),
        ("pageNumber=x", "pageNumber"),
        ("pageSize=0", "pageSize"),
        ("pageSize=1001", "pageSize"),
    ] {
        let (status, body) = get(
            &app,
            &account(&t, &format!("/users/groups?{query}")),
            &t.admin,
        )
        .await;
        expect_error(status, &body, 400);
        assert_eq!(violation_paths(&body), [parameter], "{query}");
        assert_eq!(
            body["error"]["constraintViolations"][0]["parameterLocation"],
            "QUERY"
        );
    }
}

#[tokio::test]
async fn other_unknown_and_malformed_accounts_are_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    app.user(&other, "x@globex.com").await;
    for id in [
        other.id.clone(),
        uuid::Uuid::now_v7().to_string(),
        "not-a-uuid".into(),
    ] {
        for (method, rest) in [
            (Method::GET, "/users/groups"),
            (Method::GET, "/users"),
            (Method::GET, "/groups"),
            (Method::GET, "/users/x@globex.com"),
            (Method::POST, "/users"),
            (Method::DELETE, "/users/x@globex.com"),
            (Method::PUT, "/users/x@globex.com/groups"),
            (Method::GET, "/users/groups?pageNumber=0"),
        ] {
            let path = format!("/iam/v1/accounts/{id}{rest}");
            let (status, body) =
                send(&app, method.clone(), &path, &t.admin, &json!({"email": 5})).await;
            let message = expect_error(status, &body, 404);
            assert_eq!(
                message, "Could not find requested account",
                "{method} {path}"
            );
        }
    }
    assert_eq!(app.all_users(&other).await.len(), 1, "nothing was written");
}

#[tokio::test]
async fn missing_and_wrong_keys_are_401_and_the_operator_is_403() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let none = app
        .client
        .get(app.url(&account(&t, "/users/groups")))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    let body: Value = none.json().await.unwrap();
    expect_error(401, &body, 401);
    let (status, body) = get(&app, &account(&t, "/users/groups"), "wrong").await;
    expect_error(status, &body, 401);
    let (status, body) = get(&app, &account(&t, "/users"), OPERATOR_TOKEN).await;
    expect_error(status, &body, 403);
}

#[tokio::test]
async fn a_reader_key_reads_but_cannot_write() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let reader = app.api_key(&t.id, "reader").await;
    app.user(&t, "jane@acme.com").await;
    let group = app.group(&t, "Ops").await;
    let gid = group["id"].as_str().unwrap();
    assert_eq!(
        get(&app, &account(&t, "/users/groups"), &reader).await.0,
        200
    );
    assert_eq!(
        get(&app, &account(&t, "/users/jane@acme.com"), &reader)
            .await
            .0,
        200
    );
    for (method, rest, body) in [
        (
            Method::POST,
            "/users".to_owned(),
            json!({"email": "new@acme.com"}),
        ),
        (
            Method::DELETE,
            "/users/jane@acme.com".to_owned(),
            Value::Null,
        ),
        (
            Method::POST,
            "/users/jane@acme.com/groups".to_owned(),
            json!([gid]),
        ),
        (
            Method::PUT,
            "/users/jane@acme.com/groups".to_owned(),
            json!([gid]),
        ),
        (Method::POST, "/groups".to_owned(), json!([{"name": "X"}])),
        (Method::PUT, format!("/groups/{gid}"), json!({"name": "Y"})),
        (Method::DELETE, format!("/groups/{gid}"), Value::Null),
    ] {
        let (status, body) = send(&app, method.clone(), &account(&t, &rest), &reader, &body).await;
        expect_error(status, &body, 403);
    }
    assert_eq!(app.all_users(&t).await.len(), 1);
    let (_, groups) = get(&app, &account(&t, "/groups"), &t.admin).await;
    assert_eq!(groups["items"][0]["name"], "Ops");
    assert_eq!(groups["count"], 1);
}

#[tokio::test]
async fn a_user_made_on_dynatrace_is_the_same_user_on_every_face() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (status, created) = send(
        &app,
        Method::POST,
        &account(&t, "/users"),
        &t.admin,
        &json!({"email": "Jane.Brown@Company.com"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["userStatus"], "PENDING");
    let uid = created["uid"].as_str().unwrap();
    // Native, found by email in another letter case.
    let native = expect_json(
        app.get(
            &format!("/v1/tenants/{}/users?email=jane.brown@company.com", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(native["items"][0]["id"], uid);
    assert_eq!(native["items"][0]["status"], "pending");
    // SixEye.
    let sixeye = expect_json(app.get(&format!("/users/{uid}"), &t.admin).await, 200).await;
    assert_eq!(
        sixeye["data"]["attributes"]["email"],
        "Jane.Brown@Company.com"
    );
    // Changed on the native face, read back on Dynatrace.
    expect_json(
        app.patch(
            &format!("/v1/tenants/{}/users/{uid}", t.id),
            &t.admin,
            &json!({"firstName": "Janet", "lastName": "Braun", "status": "disabled", "company": "Acme"}),
        )
        .await,
        200,
    )
    .await;
    let (status, user) = get(
        &app,
        &account(&t, "/users/jane.brown@company.com"),
        &t.admin,
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["uid"], uid);
    assert_eq!(
        (&user["name"], &user["surname"]),
        (&json!("Janet"), &json!("Braun"))
    );
    assert_eq!(user["userStatus"], "INACTIVE");
    let (_, page) = get(&app, &account(&t, "/users/groups"), &t.admin).await;
    assert_eq!(page[0]["company"], "Acme");
}

#[tokio::test]
async fn users_are_listed_found_grouped_and_deleted_by_email() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.user(&t, "jane@acme.com").await;
    app.user(&t, "bob@acme.com").await;
    let groups: Vec<String> = {
        let (status, body) = send(
            &app,
            Method::POST,
            &account(&t, "/groups"),
            &t.admin,
            &json!([{"name": "A"}, {"name": "B"}, {"name": "C"}]),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|g| g["uuid"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, list) = get(&app, &account(&t, "/users"), &t.admin).await;
    assert_eq!(status, 200);
    assert_eq!(list["count"], 2);
    assert_eq!(list["items"][0]["email"], "jane@acme.com");
    assert_eq!(list["items"][1]["userStatus"], "ACTIVE");

    let jane = account(&t, "/users/jane@acme.com/groups");
    let (status, _) = send(
        &app,
        Method::POST,
        &jane,
        &t.admin,
        &json!([groups[0], groups[1]]),
    )
    .await;
    assert_eq!(status, 201);
    // Adding again changes nothing.
    let (status, _) = send(&app, Method::POST, &jane, &t.admin, &json!([groups[1]])).await;
    assert_eq!(status, 201);
    let names = |user: &Value| -> Vec<String> {
        user["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["groupName"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, user) = get(&app, &account(&t, "/users/JANE@acme.com"), &t.admin).await;
    assert_eq!(names(&user), ["A", "B"]);
    assert_eq!(user["groups"][0]["accountName"], "Acme");

    let (status, _) = send(
        &app,
        Method::PUT,
        &jane,
        &t.admin,
        &json!([groups[1], groups[2]]),
    )
    .await;
    assert_eq!(status, 200);
    let (_, user) = get(&app, &account(&t, "/users/jane@acme.com"), &t.admin).await;
    assert_eq!(names(&user), ["B", "C"]);

    let (_, members) = get(
        &app,
        &account(&t, &format!("/groups/{}/users", groups[2])),
        &t.admin,
    )
    .await;
    assert_eq!(members["count"], 1);
    assert_eq!(members["items"][0]["email"], "jane@acme.com");

    let remove = format!("{jane}?group-uuid={}&group-uuid={}", groups[1], groups[0]);
    let response = app.delete(&remove, &t.admin).await;
    assert_eq!(response.status(), 200);
    let (_, user) = get(&app, &account(&t, "/users/jane@acme.com"), &t.admin).await;
    assert_eq!(names(&user), ["C"]);

    let (status, _) = send(&app, Method::PUT, &jane, &t.admin, &json!([])).await;
    assert_eq!(status, 200);
    let (_, user) = get(&app, &account(&t, "/users/jane@acme.com"), &t.admin).await;
    assert_eq!(user["groups"], json!([]));

    assert_eq!(
        app.delete(&account(&t, "/users/jane@acme.com"), &t.admin)
            .await
            .status(),
        200
    );
    let (status, body) = get(&app, &account(&t, "/users/jane@acme.com"), &t.admin).await;
    assert_eq!(
        expect_error(status, &body, 404),
        "Could not find requested user"
    );
    let (_, list) = get(&app, &account(&t, "/users"), &t.admin).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn bad_user_input_is_a_4xx_and_writes_nothing() {
    let app = TestApp::spawn_with(|s| s.http.max_body_bytes = 4096).await;
    let t = app.tenant().await;
    app.user(&t, "jane@acme.com").await;
    let users = account(&t, "/users");
    for (body, path) in [
        (json!({}), "email"),
        (json!({"email": 5}), "email"),
        (json!({"email": "not an email"}), "email"),
        (
            json!({"email": "a@acme.com", "name": "x".repeat(201)}),
            "name",
        ),
        (json!([]), ""),
    ] {
        let (status, reply) = send(&app, Method::POST, &users, &t.admin, &body).await;
        expect_error(status, &reply, 400);
        assert_eq!(violation_paths(&reply), [path], "{body}");
    }
    let (status, reply) = send(
        &app,
        Method::POST,
        &users,
        &t.admin,
        &json!({"email": "JANE@acme.com"}),
    )
    .await;
    expect_error(status, &reply, 409);
    let (status, reply) = send(
        &app,
        Method::POST,
        &users,
        &t.admin,
        &json!({"email": "a@acme.com", "name": "x".repeat(5000)}),
    )
    .await;
    expect_error(status, &reply, 413);
    for (content_type, body) in [("application/json", "{\"email\": "), ("text/plain", "{}")] {
        let response = app
            .request(Method::POST, &users, &t.admin)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let reply: Value = response.json().await.unwrap();
        expect_error(
            status,
            &reply,
            if content_type == "text/plain" {
                415
            } else {
                400
            },
        );
    }
    let (status, reply) = get(&app, &account(&t, "/users/nobody@acme.com"), &t.admin).await;
    expect_error(status, &reply, 404);
    let (status, reply) = get(&app, &account(&t, "/users/not-an-email"), &t.admin).await;
    expect_error(status, &reply, 404);
    let (status, reply) = send(
        &app,
        Method::DELETE,
        &account(&t, "/users/nobody@acme.com"),
        &t.admin,
        &Value::Null,
    )
    .await;
    expect_error(status, &reply, 404);
    assert_eq!(app.all_users(&t).await.len(), 1);
}

#[tokio::test]
async fn a_membership_change_naming_a_bad_group_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    app.user(&t, "jane@acme.com").await;
    let a = app.group(&t, "A").await["id"].as_str().unwrap().to_owned();
    let b = app.group(&t, "B").await["id"].as_str().unwrap().to_owned();
    let foreign = app.group(&other, "F").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let jane = account(&t, "/users/jane@acme.com/groups");
    assert_eq!(
        send(&app, Method::PUT, &jane, &t.admin, &json!([a]))
            .await
            .0,
        200
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    for method in [Method::POST, Method::PUT] {
        for (body, paths) in [
            (json!([b, unknown]), vec!["[1]"]),
            (json!([foreign, b]), vec!["[0]"]),
            (json!([b, "not-a-uuid"]), vec!["[1]"]),
            (json!([b, 7]), vec!["[1]"]),
            (json!({"groups": [b]}), vec![""]),
            (json!(vec![b.clone(); 1001]), vec![""]),
        ] {
            let (status, reply) = send(&app, method.clone(), &jane, &t.admin, &body).await;
            expect_error(status, &reply, 400);
            assert_eq!(violation_paths(&reply), paths, "{method} {body}");
        }
    }
    for query in [
        String::new(),
        format!("?group-uuid={unknown}"),
        "?group-uuid=zzz".to_owned(),
        format!("?group-uuid={a},{foreign}"),
    ] {
        let (status, reply) = send(
            &app,
            Method::DELETE,
            &format!("{jane}{query}"),
            &t.admin,
            &Value::Null,
        )
        .await;
        expect_error(status, &reply, 400);
    }
    let (status, reply) = send(
        &app,
        Method::PUT,
        &account(&t, "/users/nobody@acme.com/groups"),
        &t.admin,
        &json!([a]),
    )
    .await;
    expect_error(status, &reply, 404);
    let (_, user) = get(&app, &account(&t, "/users/jane@acme.com"), &t.admin).await;
    let groups: Vec<&str> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(groups, [a.as_str()], "only the first change applied");
}

#[tokio::test]
async fn groups_are_created_in_bulk_updated_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (status, created) = send(
        &app,
        Method::POST,
        &account(&t, "/groups"),
        &t.admin,
        &json!([
            {"name": "Ops", "description": "Runs production"},
            {"uuid": "ignored", "name": "SSO", "federatedAttributeValues": ["ops", "dev"]}
        ]),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created[0]["owner"], "LOCAL");
    assert_eq!(created[0]["description"], "Runs production");
    assert_eq!(created[0]["federatedAttributeValues"], json!([]));
    assert_eq!(created[1]["owner"], "SAML");
    assert_eq!(created[1]["description"], "");
    let ops = created[0]["uuid"].as_str().unwrap();
    let (status, list) = get(&app, &account(&t, "/groups"), &t.admin).await;
    assert_eq!(status, 200);
    assert_eq!(list["count"], 2);
    let wrong_method = app
        .patch(&account(&t, "/groups"), &t.admin, &json!([]))
        .await;
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(list["items"][1]["name"], "SSO");
    // Native sees them too.
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/groups/{ops}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["name"], "Ops");

    let (status, updated) = send(
        &app,
        Method::PUT,
        &account(&t, &format!("/groups/{ops}")),
        &t.admin,
        &json!({"name": "Operations", "federatedAttributeValues": ["x"]}),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Operations");
    assert_eq!(updated["description"], "", "PUT replaces");
    assert_eq!(updated["federatedAttributeValues"], json!(["x"]));

    let (status, members) = get(
        &app,
        &account(&t, &format!("/groups/{ops}/users")),
        &t.admin,
    )
    .await;
    assert_eq!((status, members), (200, json!({"items": [], "count": 0})));

    assert_eq!(
        app.delete(&account(&t, &format!("/groups/{ops}")), &t.admin)
            .await
            .status(),
        200
    );
    let (status, reply) = get(
        &app,
        &account(&t, &format!("/groups/{ops}/users")),
        &t.admin,
    )
    .await;
    assert_eq!(
        expect_error(status, &reply, 404),
        "Could not find requested group"
    );
    let (_, list) = get(&app, &account(&t, "/groups"), &t.admin).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn a_bulk_group_create_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.group(&t, "Taken").await;
    let groups = account(&t, "/groups");
    let (status, reply) = send(
        &app,
        Method::POST,
        &groups,
        &t.admin,
        &json!([{"name": "New"}, {"name": "taken"}]),
    )
    .await;
    expect_error(status, &reply, 409);
    let (status, reply) = send(
        &app,
        Method::POST,
        &groups,
        &t.admin,
        &json!([{"name": "New"}, {"name": "new"}]),
    )
    .await;
    expect_error(status, &reply, 409);
    for (body, paths) in [
        (json!([{"name": "New"}, {"name": ""}]), vec!["[1].name"]),
        (json!([{"name": "New"}, {}]), vec!["[1].name"]),
        (json!([{"name": "New"}, {"name": 3}]), vec!["[1].name"]),
        (
            json!([{"name": "New", "federatedAttributeValues": [""]}]),
            vec!["[0].federatedAttributeValues"],
        ),
        (json!([]), vec![""]),
        (json!({"name": "New"}), vec![""]),
    ] {
        let (status, reply) = send(&app, Method::POST, &groups, &t.admin, &body).await;
        expect_error(status, &reply, 400);
        assert_eq!(violation_paths(&reply), paths, "{body}");
    }
    let (_, list) = get(&app, &groups, &t.admin).await;
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["items"][0]["name"], "Taken");
}

#[tokio::test]
async fn bad_group_updates_are_4xx() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let a = app.group(&t, "A").await["id"].as_str().unwrap().to_owned();
    app.group(&t, "B").await;
    let foreign = app.group(&other, "F").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in [
        foreign.clone(),
        uuid::Uuid::now_v7().to_string(),
        "zzz".into(),
    ] {
        let (status, reply) = send(
            &app,
            Method::PUT,
            &account(&t, &format!("/groups/{id}")),
            &t.admin,
            &json!({"name": "X"}),
        )
        .await;
        assert_eq!(
            expect_error(status, &reply, 404),
            "Could not find requested group"
        );
        let (status, reply) = send(
            &app,
            Method::DELETE,
            &account(&t, &format!("/groups/{id}")),
            &t.admin,
            &Value::Null,
        )
        .await;
        expect_error(status, &reply, 404);
        let (status, reply) =
            get(&app, &account(&t, &format!("/groups/{id}/users")), &t.admin).await;
        expect_error(status, &reply, 404);
    }
    let path = account(&t, &format!("/groups/{a}"));
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": ["A"]}),
        json!({"name": "A", "description": "x".repeat(1001)}),
    ] {
        let (status, reply) = send(&app, Method::PUT, &path, &t.admin, &body).await;
        expect_error(status, &reply, 400);
    }
    let (status, reply) = send(&app, Method::PUT, &path, &t.admin, &json!({"name": "b"})).await;
    expect_error(status, &reply, 409);
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/groups/{a}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["name"], "A");
    let native = expect_json(
        app.get(
            &format!("/v1/tenants/{}/groups/{foreign}", other.id),
            &other.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(native["name"], "F");
}

#[tokio::test]
async fn login_metadata_is_never_updated_before_the_logins_it_carries() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    crate::sign_in::user_with_password(&app, &t, "meta@acme.com", "member").await;
    let before = crate::users::now_as_written();
    expect_json(
        crate::sign_in::login(&app, &t.id, "meta@acme.com", crate::sign_in::PASSWORD).await,
        200,
    )
    .await;
    let failed = crate::sign_in::login(&app, &t.id, "meta@acme.com", "not the password").await;
    assert_eq!(failed.status(), 401);
    let (status, body) = get(&app, &account(&t, "/users/groups"), &t.admin).await;
    assert_eq!(status, 200);
    let login = &body[0]["userLoginMetadata"];
    let updated = login["updatedAt"].as_str().unwrap();
    for field in [
        "lastSuccessfulLogin",
        "lastFailedLogin",
        "lastSuccessfulBasicAuthentication",
    ] {
        let at = login[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {login}"));
        assert!(at >= before.as_str(), "{field}");
        assert!(updated >= at, "updatedAt {updated} is before {field} {at}");
    }
    // The user's own record did not change by signing in.
    assert!(body[0]["updatedAt"].as_str().unwrap() <= before.as_str());
}

#[tokio::test]
async fn a_user_is_found_by_email_in_any_letter_case_and_each_group_change_is_audited_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let jane = app.user(&t, "Jane.Doe@Acme.com").await;
    let jane_id = jane["id"].as_str().unwrap().to_owned();
    let (status, body) = send(
        &app,
        Method::POST,
        &account(&t, "/groups"),
        &t.admin,
        &json!([{"name": "A"}, {"name": "B"}, {"name": "C"}, {"name": "D"}]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let groups: Vec<String> = (body.as_array().unwrap().iter())
        .map(|g| g["uuid"].as_str().unwrap().to_owned())
        .collect();

    let (status, user) = get(&app, &account(&t, "/users/jANE.dOE@aCME.COM"), &t.admin).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["uid"], jane_id);
    assert_eq!(user["email"], "Jane.Doe@Acme.com");

    let path = account(&t, "/users/JANE.DOE@ACME.COM/groups");
    let (status, _) = send(
        &app,
        Method::POST,
        &path,
        &t.admin,
        &json!([groups[0], groups[1]]),
    )
    .await;
    assert_eq!(status, 201);
    let events = |action: &'static str| {
        let (app, t, jane_id) = (&app, &t, jane_id.clone());
        async move {
            let page = expect_json(
                app.get(
                    &format!(
                        "/v1/tenants/{}/audit-events?limit=1000&action={action}",
                        t.id
                    ),
                    &t.admin,
                )
                .await,
                200,
            )
            .await;
            let mut targets: Vec<String> = (page["items"].as_array().unwrap().iter())
                .map(|e| {
                    assert_eq!(e["details"]["userIds"], json!([jane_id]), "{e}");
                    e["target"]["id"].as_str().unwrap().to_owned()
                })
                .collect();
            targets.sort();
            targets
        }
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(
        events("group.member.add").await,
        sorted(groups[..2].to_vec())
    );

    // An unknown group among those named: nothing changes, nothing is audited.
    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, body) = send(
        &app,
        Method::PUT,
        &path,
        &t.admin,
        &json!([groups[1], groups[2], unknown]),
    )
    .await;
    expect_error(status, &body, 400);
    assert_eq!(violation_paths(&body), ["[2]"]);
    assert_eq!(events("group.member.add").await.len(), 2);
    assert!(events("group.member.remove").await.is_empty());

    // B stays, C and D are added, A is removed: one event per membership changed.
    let (status, _) = send(
        &app,
        Method::PUT,
        &path,
        &t.admin,
        &json!([groups[1], groups[2], groups[3], groups[2]]),
    )
    .await;
    assert_eq!(status, 200);
    let mut added = groups[..2].to_vec();
    added.extend(groups[2..].iter().cloned());
    assert_eq!(events("group.member.add").await, sorted(added));
    assert_eq!(events("group.member.remove").await, [groups[0].clone()]);
    let (_, user) = get(&app, &account(&t, "/users/jane.doe@acme.com"), &t.admin).await;
    let names: Vec<&str> = (user["groups"].as_array().unwrap().iter())
        .map(|g| g["groupName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["B", "C", "D"]);
}
