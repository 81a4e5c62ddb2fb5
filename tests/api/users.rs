use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_json, expect_problem, problem_fields};

#[tokio::test]
async fn a_user_is_created_read_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let created = app
        .post(
            &format!("/v1/tenants/{}/users", t.id),
            &t.admin,
            &json!({"email": "Wiley.Coyote@acme.com", "firstName": "Wiley", "lastName": "Coyote",
                    "password": "correct horse battery staple", "role": "admin",
                    "phone": "+1 234 567 890", "company": "Acme", "countryCode": "us"}),
        )
        .await;
    assert_eq!(created.headers()["etag"], "\"1\"");
    let user = expect_json(created, 201).await;
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["email"], "Wiley.Coyote@acme.com");
    assert_eq!(user["role"], "admin");
    assert_eq!(user["status"], "active");
    assert_eq!(user["countryCode"], "US");
    assert_eq!(user["hasPassword"], true);
    assert!(user.get("password").is_none() && user.get("passwordHash").is_none());
    assert!(!user.to_string().contains("argon2"), "no hash in replies");
    assert!(user["login"]["passwordChangedAt"].is_string());

    let path = format!("/v1/tenants/{}/users/{id}", t.id);
    let read = app.get(&path, &t.admin).await;
    assert_eq!(read.headers()["etag"], "\"1\"");
    assert_eq!(expect_json(read, 200).await, user);

    let changed = app
        .patch(
            &path,
            &t.admin,
            &json!({"lastName": "Genius", "phone": null, "status": "disabled"}),
        )
        .await;
    assert_eq!(changed.headers()["etag"], "\"2\"");
    let changed = expect_json(changed, 200).await;
    assert_eq!(changed["lastName"], "Genius");
    assert_eq!(changed["firstName"], "Wiley", "fields not named stay");
    assert!(changed["phone"].is_null(), "null clears");
    assert_eq!(changed["company"], "Acme");
    assert_eq!(changed["status"], "disabled");

    assert_eq!(app.delete(&path, &t.admin).await.status(), 204);
    expect_problem(app.get(&path, &t.admin).await, 404).await;
    expect_problem(app.delete(&path, &t.admin).await, 404).await;
}

#[tokio::test]
async fn if_match_guards_changes_and_deletes() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = app.user(&t, "a@acme.com").await;
    let path = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        user["id"].as_str().unwrap()
    );

    let stale = app
        .request(Method::PATCH, &path, &t.admin)
        .header("if-match", "\"7\"")
        .json(&json!({"firstName": "B"}))
        .send()
        .await
        .unwrap();
    expect_problem(stale, 412).await;
    let weak = app
        .request(Method::PATCH, &path, &t.admin)
        .header("if-match", "W/\"1\"")
        .json(&json!({"firstName": "B"}))
        .send()
        .await
        .unwrap();
    expect_problem(weak, 412).await;
    let fresh = app
        .request(Method::PATCH, &path, &t.admin)
        .header("if-match", "\"1\"")
        .json(&json!({"firstName": "B"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.headers()["etag"], "\"2\"");
    assert_eq!(expect_json(fresh, 200).await["firstName"], "B");

    let stale_delete = app
        .request(Method::DELETE, &path, &t.admin)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    expect_problem(stale_delete, 412).await;
    assert_eq!(
        app.get(&path, &t.admin).await.status(),
        200,
        "a refused delete deletes nothing"
    );
    let any = app
        .request(Method::DELETE, &path, &t.admin)
        .header("if-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(any.status(), 204);
}

#[tokio::test]
async fn an_empty_patch_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = app.user(&t, "a@acme.com").await;
    let path = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        user["id"].as_str().unwrap()
    );
    let same = app.patch(&path, &t.admin, &json!({})).await;
    assert_eq!(same.headers()["etag"], "\"1\"");
    assert_eq!(expect_json(same, 200).await, user);
}

#[tokio::test]
async fn lists_filter_by_email_prefix_status_role_and_group() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    for (email, first, last, role, status) in [
        (
            "roger.rabbit@acme.com",
            "Roger",
            "Rabbit",
            "admin",
            "active",
        ),
        ("jessica@acme.com", "Jessica", "Rabbit", "member", "active"),
        ("wiley@acme.com", "Wiley", "Coyote", "member", "disabled"),
        (
            "road.runner@acme.com",
            "Road",
            "Runner",
            "member",
            "pending",
        ),
    ] {
        let body = json!({"email": email, "firstName": first, "lastName": last, "role": role, "status": status});
        expect_json(app.post(&users, &t.admin, &body).await, 201).await;
    }
    let emails = |page: serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |query: &str| {
        let path = format!("{users}?{query}");
        let app = &app;
        let admin = t.admin.clone();
        async move { expect_json(app.get(&path, &admin).await, 200).await }
    };
    assert_eq!(
        emails(get("email=JESSICA@acme.com").await),
        ["jessica@acme.com"]
    );
    assert_eq!(
        emails(get("q=rabbit").await),
        ["roger.rabbit@acme.com", "jessica@acme.com"]
    );
    assert_eq!(
        emails(get("q=RO").await),
        ["roger.rabbit@acme.com", "road.runner@acme.com"]
    );
    assert_eq!(emails(get("q=wi").await), ["wiley@acme.com"]);
    assert_eq!(emails(get("status=disabled").await), ["wiley@acme.com"]);
    assert_eq!(emails(get("role=admin").await), ["roger.rabbit@acme.com"]);
    assert_eq!(
        emails(get("role=member&status=active").await),
        ["jessica@acme.com"]
    );
    assert!(emails(get("q=zz").await).is_empty());

    let group = app.group(&t, "Toons").await;
    let gid = group["id"].as_str().unwrap();
    let wiley = emails(get("email=wiley@acme.com").await);
    assert_eq!(wiley.len(), 1);
    let wiley_id = get("email=wiley@acme.com").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = format!("/v1/tenants/{}/groups/{gid}/members/{wiley_id}", t.id);
    assert_eq!(app.put(&member, &t.admin).await.status(), 204);
    assert_eq!(
        emails(get(&format!("groupId={gid}")).await),
        ["wiley@acme.com"]
    );
    expect_problem(
        app.get(
            &format!("{users}?groupId={}", uuid::Uuid::now_v7()),
            &t.admin,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn a_users_groups_and_default_group() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = app.user(&t, "a@acme.com").await;
    let uid = user["id"].as_str().unwrap();
    let ops = app.group(&t, "Ops").await;
    let dev = app.group(&t, "Dev").await;
    let path = format!("/v1/tenants/{}/users/{uid}", t.id);

    // Setting a default group makes the user a member of it.
    let changed = expect_json(
        app.patch(&path, &t.admin, &json!({"defaultGroupId": dev["id"]}))
            .await,
        200,
    )
    .await;
    assert_eq!(changed["defaultGroupId"], dev["id"]);
    let member = format!(
        "/v1/tenants/{}/groups/{}/members/{uid}",
        t.id,
        ops["id"].as_str().unwrap()
    );
    assert_eq!(app.put(&member, &t.admin).await.status(), 204);
    let groups = expect_json(app.get(&format!("{path}/groups"), &t.admin).await, 200).await;
    let names: Vec<&str> = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ops", "Dev"]);
    assert_eq!(
        expect_json(app.get(&path, &t.admin).await, 200).await["defaultGroupId"],
        dev["id"]
    );

    // Deleting the default group clears it; an unknown group is refused by name.
    let dev_path = format!(
        "/v1/tenants/{}/groups/{}",
        t.id,
        dev["id"].as_str().unwrap()
    );
    assert_eq!(app.delete(&dev_path, &t.admin).await.status(), 204);
    assert!(expect_json(app.get(&path, &t.admin).await, 200).await["defaultGroupId"].is_null());
    let unknown = expect_problem(
        app.patch(
            &path,
            &t.admin,
            &json!({"defaultGroupId": uuid::Uuid::now_v7()}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(unknown["errors"][0]["field"], "defaultGroupId");
    expect_problem(
        app.get(
            &format!("/v1/tenants/{}/users/{}/groups", t.id, uuid::Uuid::now_v7()),
            &t.admin,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn a_user_name_is_the_email_unless_one_is_given() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let plain = app.user(&t, "plain@acme.com").await;
    assert_eq!(plain["userName"], "plain@acme.com");
    let path = format!("{users}/{}", plain["id"].as_str().unwrap());
    let moved = expect_json(
        app.patch(&path, &t.admin, &json!({"email": "moved@acme.com"}))
            .await,
        200,
    )
    .await;
    assert_eq!(moved["userName"], "moved@acme.com", "it follows the email");

    let named = expect_json(
        app.post(
            &users,
            &t.admin,
            &json!({"email": "road.runner@acme.com", "userName": "rrunner",
                    "firstName": "Road", "lastName": "Runner"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(named["userName"], "rrunner");
    assert_eq!(named["email"], "road.runner@acme.com");
    let named_path = format!("{users}/{}", named["id"].as_str().unwrap());
    let kept = expect_json(
        app.patch(&named_path, &t.admin, &json!({"email": "rr@acme.com"}))
            .await,
        200,
    )
    .await;
    assert_eq!(kept["userName"], "rrunner", "its own userName stays");

    // Unique regardless of case, also against an email that serves as a userName.
    for (user_name, email) in [
        ("RRunner", "x1@acme.com"),
        ("MOVED@acme.com", "x2@acme.com"),
    ] {
        let clash =
            json!({"email": email, "userName": user_name, "firstName": "a", "lastName": "b"});
        let problem = expect_problem(app.post(&users, &t.admin, &clash).await, 409).await;
        assert_eq!(problem_fields(&problem), ["userName"], "{user_name}");
    }
    let bad =
        json!({"email": "x3@acme.com", "userName": " padded", "firstName": "a", "lastName": "b"});
    let problem = expect_problem(app.post(&users, &t.admin, &bad).await, 400).await;
    assert_eq!(problem_fields(&problem), ["userName"]);

    // null makes the userName the email again.
    let reset = expect_json(
        app.patch(&named_path, &t.admin, &json!({"userName": null}))
            .await,
        200,
    )
    .await;
    assert_eq!(reset["userName"], "rr@acme.com");
}

/// Addresses that break the one email rule in each of its clauses.
const BAD_EMAILS: &[&str] = &[
    ".lead@acme.com",
    "trail.@acme.com",
    "dou..ble@acme.com",
    "a@-acme.com",
    "a@acme-.com",
    "a@acme..com",
    "a@localhost",
    "a@acme_corp.com",
];

#[tokio::test]
async fn the_same_bad_emails_are_refused_on_every_face() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for bad in BAD_EMAILS {
        let native = app
            .post(
                &format!("/v1/tenants/{}/users", t.id),
                &t.admin,
                &json!({"email": bad, "firstName": "A", "lastName": "B"}),
            )
            .await;
        assert_eq!(
            problem_fields(&expect_problem(native, 400).await),
            ["email"],
            "native {bad}"
        );
        let scim = app
            .post(
                "/scim/v2/Users",
                &t.admin,
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("user-{}", bad.len()),
                        "emails": [{"value": bad, "primary": true}]}),
            )
            .await;
        let scim = expect_json(scim, 400).await;
        assert_eq!(scim["scimType"], "invalidValue", "SCIM {bad}: {scim}");
        let anodot = app
            .post("/api/v2/users", &t.admin, &json!({"emails": [bad]}))
            .await;
        assert_eq!(anodot.status(), 400, "Anodot {bad}");
        let dynatrace = app
            .post(
                &format!("/iam/v1/accounts/{}/users", t.id),
                &t.admin,
                &json!({"email": bad}),
            )
            .await;
        assert_eq!(dynatrace.status(), 400, "Dynatrace {bad}");
        let tyk = app
            .client
            .post(app.url("/api/users"))
            .header("authorization", &t.admin)
            .json(&json!({"first_name": "A", "last_name": "B", "email_address": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(tyk.status(), 400, "Tyk {bad}");
    }
    assert!(app.all_users(&t).await.is_empty());
    // And the rule's good side holds on every face too.
    let created = app
        .post(
            &format!("/v1/tenants/{}/users", t.id),
            &t.admin,
            &json!({"email": "first.last+tag@sub-1.acme.com", "firstName": "A", "lastName": "B"}),
        )
        .await;
    assert_eq!(created.status(), 201);
}

/// The time now as the server writes times (RFC 3339, UTC, milliseconds), which
/// orders as text: a change made after this reads as no earlier.
pub fn now_as_written() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The user's ETag and updatedAt as /v1 reads them.
pub async fn version_and_updated_at(
    app: &TestApp,
    tenant: &str,
    admin: &str,
    id: &str,
) -> (String, String, serde_json::Value) {
    let response = app
        .get(&format!("/v1/tenants/{tenant}/users/{id}"), admin)
        .await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let user = expect_json(response, 200).await;
    (etag, user["updatedAt"].as_str().unwrap().to_owned(), user)
}

#[tokio::test]
async fn setting_or_resetting_a_password_moves_updated_at_and_the_version() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let password = "correct horse battery staple";
    let user = expect_json(
        app.post(
            &format!("/v1/tenants/{}/users", t.id),
            &t.admin,
            &json!({"email": "pw@acme.com", "firstName": "P", "lastName": "W", "password": password}),
        )
        .await,
        201,
    )
    .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (mut etag, _, _) = version_and_updated_at(&app, &t.id, &t.admin, &id).await;
    let sign_in_token = expect_json(
        crate::sign_in::login(&app, &t.id, "pw@acme.com", password).await,
        200,
    )
    .await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // An administrator's reset (/v1), Tyk's reset action, the user's own change.
    let changes: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "native reset",
            app.request(
                Method::PUT,
                &format!("/v1/tenants/{}/users/{id}/password", t.id),
                &t.admin,
            )
            .json(&json!({"password": "another long passphrase"})),
        ),
        (
            "Tyk reset",
            app.client
                .post(app.url(&format!("/api/users/{id}/actions/reset")))
                .header("authorization", &t.admin)
                .json(&json!({"new_password": "a much longer passphrase"})),
        ),
        (
            "own change",
            app.request(
                Method::POST,
                &format!("/v1/tenants/{}/auth/password", t.id),
                &sign_in_token,
            )
            .json(&json!({"currentPassword": "a much longer passphrase",
                          "newPassword": "yet another passphrase here"})),
        ),
    ];
    for (what, request) in changes {
        let before = now_as_written();
        let status = request.send().await.unwrap().status();
        assert!(status.is_success(), "{what}: {status}");
        let (next_etag, updated_at, user) =
            version_and_updated_at(&app, &t.id, &t.admin, &id).await;
        assert_ne!(next_etag, etag, "{what} moves the version");
        assert!(updated_at >= before, "{what}: {updated_at} < {before}");
        assert_eq!(
            user["login"]["passwordChangedAt"],
            updated_at.as_str(),
            "{what}"
        );
        etag = next_etag;
    }
}

#[tokio::test]
async fn q_status_role_and_group_combine_into_one_filter_and_page_by_cursor() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let group = app.group(&t, "Rabbits").await;
    let gid = group["id"].as_str().unwrap().to_owned();
    // The first four match (by last name or email, in any case); each other user
    // misses one condition.
    for (email, last, role, status, member) in [
        ("r1@acme.com", "Rabbit", "member", "active", true),
        ("r2@acme.com", "RABBIT", "member", "active", true),
        ("rabbit3@acme.com", "Other", "member", "active", true),
        ("r4@acme.com", "rabbitson", "member", "active", true),
        ("r5@acme.com", "Rabbit", "admin", "active", true),
        ("r6@acme.com", "Rabbit", "member", "disabled", true),
        ("r7@acme.com", "Rabbit", "member", "active", false),
        ("r8@acme.com", "Hare", "member", "active", true),
    ] {
        let body = json!({"email": email, "firstName": "Roger", "lastName": last, "role": role, "status": status});
        let user = expect_json(app.post(&users, &t.admin, &body).await, 201).await;
        let id = user["id"].as_str().unwrap().to_owned();
        if member {
            let path = format!("/v1/tenants/{}/groups/{gid}/members/{id}", t.id);
            assert_eq!(app.put(&path, &t.admin).await.status(), 204);
        }
    }
    // Page by page, one user a page, through the cursor.
    let mut found = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("{users}?q=RaB&status=active&role=member&groupId={gid}&limit=1{cursor}");
        let page = expect_json(app.get(&path, &t.admin).await, 200).await;
        for user in page["items"].as_array().unwrap() {
            found.push(user["email"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(
        found,
        [
            "r1@acme.com",
            "r2@acme.com",
            "rabbit3@acme.com",
            "r4@acme.com"
        ]
    );
}

#[tokio::test]
async fn the_native_face_reads_and_writes_the_scim_profile() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let boss = app.user(&t, "boss@example.com").await;
    let boss_id = boss["id"].as_str().unwrap();
    let created = expect_json(
        app.post(
            &format!("/v1/tenants/{}/users", t.id),
            &t.admin,
            &json!({
                "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
                "phone": "+44 20 7946 0000",
                "profile": {
                    "displayName": "Ada L.", "title": "Analyst", "locale": "en-GB",
                    "phoneNumbers": [{"value": "+44 7700 900000", "type": "mobile"}],
                    "addresses": [{"locality": "London", "country": "GB", "type": "home"}],
                    "department": "Engines", "managerId": boss_id,
                },
            }),
        )
        .await,
        201,
    )
    .await;
    let profile = &created["profile"];
    assert_eq!(profile["displayName"], "Ada L.");
    assert_eq!(profile["title"], "Analyst");
    assert_eq!(profile["department"], "Engines");
    assert_eq!(profile["manager"]["id"], boss_id);
    // `phone` is the work phone beside the others.
    assert_eq!(
        profile["phoneNumbers"],
        json!([
            {"value": "+44 7700 900000", "type": "mobile", "primary": null, "display": null},
            {"value": "+44 20 7946 0000", "type": "work", "primary": null, "display": null},
        ])
    );
    assert_eq!(created["phone"], "+44 20 7946 0000");
    // The email is the primary work email.
    assert_eq!(
        profile["emails"],
        json!([{"value": "ada@example.com", "type": "work", "primary": true, "display": null}])
    );
    assert_eq!(
        created["countryCode"],
        Value::Null,
        "only a work address gives it"
    );

    let path = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        created["id"].as_str().unwrap()
    );
    let changed = expect_json(
        app.patch(
            &path,
            &t.admin,
            &json!({"role": "admin", "email": "ada@engines.example",
                    "profile": {"title": null, "managerId": null, "nickName": "Countess"}}),
        )
        .await,
        200,
    )
    .await;
    let profile = &changed["profile"];
    assert!(profile["title"].is_null());
    assert!(profile["manager"].is_null());
    assert_eq!(profile["nickName"], "Countess");
    assert_eq!(profile["displayName"], "Ada L.", "what is not named stays");
    // The role is written into the roles, the email into the primary email.
    assert_eq!(profile["roles"][0]["value"], "admin");
    assert_eq!(profile["emails"][0]["value"], "ada@engines.example");
    let scim = expect_json(
        app.get(
            &format!("/scim/v2/Users/{}", created["id"].as_str().unwrap()),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(scim["roles"], json!([{"value": "admin"}]));
    assert_eq!(scim["nickName"], "Countess");
    let member = expect_json(
        app.patch(&path, &t.admin, &json!({"role": "member"})).await,
        200,
    )
    .await;
    assert_eq!(member["profile"]["roles"], json!([]));

    // The profile's rules hold here too.
    for bad in [
        json!({"profile": {"timezone": "not a zone"}}),
        json!({"profile": {"emails": [{"value": "a@example.com", "primary": true},
                                      {"value": "b@example.com", "primary": true}]}}),
        json!({"profile": {"managerId": "not-an-id"}}),
        json!({"profile": {"favouriteColour": "blue"}}),
    ] {
        expect_problem(app.patch(&path, &t.admin, &bad).await, 400).await;
    }
}
