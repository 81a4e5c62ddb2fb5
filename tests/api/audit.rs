use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_json, expect_problem};

const PASSWORD: &str = "correct horse battery staple";

async fn events(app: &TestApp, tenant: &str, token: &str, query: &str) -> Vec<Value> {
    let page = expect_json(
        app.get(
            &format!("/v1/tenants/{tenant}/audit-events?limit=1000&{query}"),
            token,
        )
        .await,
        200,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn changes_and_sign_ins_are_audited_without_secrets() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let user = expect_json(
        app.post(&users, &t.admin, &json!({"email": "a@acme.com", "firstName": "A", "lastName": "B", "password": PASSWORD})).await,
        201,
    )
    .await;
    let uid = user["id"].as_str().unwrap();
    expect_json(
        app.patch(
            &format!("{users}/{uid}"),
            &t.admin,
            &json!({"lastName": "C"}),
        )
        .await,
        200,
    )
    .await;
    let login = |password: &'static str| {
        app.client
            .post(app.url(&format!("/v1/tenants/{}/auth/login", t.id)))
            .header("user-agent", "audit-test/1.0")
            .json(&json!({"email": "a@acme.com", "password": password}))
            .send()
    };
    assert_eq!(
        login("wrong password for sure").await.unwrap().status(),
        401
    );
    let signed_in = expect_json(login(PASSWORD).await.unwrap(), 200).await;
    let reset = format!("{users}/{uid}/password");
    let put = app
        .request(reqwest::Method::PUT, &reset, &t.admin)
        .json(&json!({"password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);

    let all = events(&app, &t.id, &t.admin, "").await;
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in [
        "tenant.create",
        "api_key.create",
        "user.create",
        "user.update",
        "auth.login",
        "user.password.set",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    let update = all.iter().find(|e| e["action"] == "user.update").unwrap();
    assert_eq!(update["details"]["fields"], json!(["lastName"]));
    assert_eq!(update["actor"]["kind"], "api_key");

    let logins = events(&app, &t.id, &t.admin, "action=auth.login").await;
    assert_eq!(logins.len(), 2);
    assert_eq!(logins[0]["details"]["outcome"], "failure");
    assert_eq!(logins[1]["details"]["outcome"], "success");
    assert_eq!(logins[1]["client"]["userAgent"], "audit-test/1.0");
    assert_eq!(logins[1]["client"]["address"], "127.0.0.1");
    assert_eq!(logins[1]["actor"], json!({"kind": "user", "id": uid}));

    let about_user = events(&app, &t.id, &t.admin, &format!("target={uid}")).await;
    assert!(about_user.iter().all(|e| e["target"]["id"] == uid));
    assert!(about_user.len() >= 4);
    let by_user = events(&app, &t.id, &t.admin, &format!("actor={uid}")).await;
    assert!(by_user.iter().all(|e| e["actor"]["id"] == uid) && !by_user.is_empty());
    let future = events(&app, &t.id, &t.admin, "since=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());

    let text = serde_json::to_string(&all).unwrap();
    for secret in [
        PASSWORD,
        "a brand new passphrase",
        "wrong password for sure",
        t.admin.as_str(),
        signed_in["accessToken"].as_str().unwrap(),
        "$argon2",
    ] {
        assert!(!text.contains(secret), "{secret} is in the audit log");
    }
}

#[tokio::test]
async fn only_admins_read_the_audit_log() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let reader = app.api_key(&t.id, "reader").await;
    let path = format!("/v1/tenants/{}/audit-events", t.id);
    expect_problem(app.get(&path, &reader).await, 403).await;
    let other = app.tenant().await;
    expect_problem(app.get(&path, &other.admin).await, 404).await;
    for query in ["action=bogus", "since=yesterday", "limit=0"] {
        expect_problem(app.get(&format!("{path}?{query}"), &t.admin).await, 400).await;
    }
    let paged = expect_json(app.get(&format!("{path}?limit=1"), &t.admin).await, 200).await;
    let cursor = paged["nextCursor"].as_str().unwrap();
    let next = expect_json(
        app.get(&format!("{path}?limit=1&cursor={cursor}"), &t.admin)
            .await,
        200,
    )
    .await;
    assert_ne!(paged["items"][0]["id"], next["items"][0]["id"]);
}

#[tokio::test]
async fn the_audit_log_reads_newest_first_when_asked_and_pages_back_in_time() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for name in ["one", "two", "three"] {
        app.group(&t, name).await;
    }
    let path = |query: &str| {
        format!(
            "/v1/tenants/{}/audit-events?action=group.create&{query}",
            t.id
        )
    };
    let oldest_first = events(&app, &t.id, &t.admin, "action=group.create").await;
    let newest_first = events(&app, &t.id, &t.admin, "action=group.create&order=desc").await;
    let names = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["details"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&oldest_first), ["one", "two", "three"]);
    assert_eq!(names(&newest_first), ["three", "two", "one"]);
    let first = expect_json(app.get(&path("order=desc&limit=2"), &t.admin).await, 200).await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let rest = expect_json(
        app.get(
            &path(&format!("order=desc&limit=2&cursor={cursor}")),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(rest["items"].as_array().unwrap()), ["one"]);
    let bad = expect_problem(app.get(&path("order=sideways"), &t.admin).await, 400).await;
    assert!(bad.to_string().contains("order"), "{bad}");
}
