use serde_json::{Value, json};

use crate::compat::{assert_same_shape, seed};
use crate::helpers::{TestApp, TestTenant, create_users, expect_json};

async fn sixeye_get(app: &TestApp, path: &str, token: &str) -> (u16, String, Value) {
    let response = app.get(path, token).await;
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.json().await.unwrap();
    (status, content_type, body)
}

/// Creates the seed's two users through the native API, each signed in once.
async fn seed_users(app: &TestApp, t: &TestTenant) -> Vec<Value> {
    let store = app.store().await;
    let mut users = Vec::new();
    for (first, last, email, phone) in [
        ("Joe", "Manager", "joe.manager@example.com", "123456789"),
        ("Bob", "User", "bob.user@example.com", "+1 234 567 890"),
    ] {
        let body = json!({"email": email, "firstName": first, "lastName": last, "phone": phone});
        let user = expect_json(
            app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
                .await,
            201,
        )
        .await;
        let id = roster::domain::UserId::parse(user["id"].as_str().unwrap()).unwrap();
        let tenant = roster::domain::TenantId::parse(&t.id).unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.record_successful_login(tenant, id, roster::domain::Timestamp::now())
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        users.push(user);
    }
    users
}

#[tokio::test]
async fn sixeye_users_match_the_seed_example() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = seed_users(&app, &t).await;
    let (status, content_type, body) = sixeye_get(&app, "/users", &t.admin).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/vnd.api+json");
    assert_same_shape(&body, &seed("sixeye_users.json"), "$");
    assert_eq!(body["data"][0]["id"], users[0]["id"]);
    assert_eq!(
        body["data"][1]["attributes"]["phoneNumber"],
        "+1 234 567 890"
    );
    assert_eq!(body["data"][1]["type"], "users");
}

#[tokio::test]
async fn a_sixeye_user_matches_the_seed_example() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = seed_users(&app, &t).await;
    let bob = users[1]["id"].as_str().unwrap();
    let (status, content_type, body) = sixeye_get(&app, &format!("/users/{bob}"), &t.admin).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/vnd.api+json")
    );
    assert_same_shape(&body, &seed("sixeye_user.json"), "$");
    assert_eq!(body["data"]["attributes"]["email"], "bob.user@example.com");
}

#[tokio::test]
async fn sixeye_maps_status_role_and_never_signed_in() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body = json!({"email": "boss@example.com", "firstName": "B", "lastName": "S", "role": "admin", "status": "disabled"});
    let user = expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await;
    let (_, _, body) = sixeye_get(
        &app,
        &format!("/users/{}", user["id"].as_str().unwrap()),
        &t.admin,
    )
    .await;
    let attributes = &body["data"]["attributes"];
    assert_eq!(attributes["suspended"], true);
    assert_eq!(attributes["tenantAdmin"], true);
    assert_eq!(attributes["twoFactorEnabled"], false);
    assert!(attributes["lastLoginTime"].is_null() && attributes["lastActionTime"].is_null());
    assert!(attributes["phoneNumber"].is_null());
}

#[tokio::test]
async fn sixeye_answers_unknown_malformed_and_foreign_users_404_as_json_api() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let foreign = app.user(&other, "x@globex.com").await;
    for path in [
        format!("/users/{}", uuid::Uuid::now_v7()),
        "/users/not-a-uuid".to_owned(),
        format!("/users/{}", foreign["id"].as_str().unwrap()),
    ] {
        let (status, content_type, body) = sixeye_get(&app, &path, &t.admin).await;
        assert_eq!(
            (status, content_type.as_str()),
            (404, "application/vnd.api+json"),
            "{path}"
        );
        assert_eq!(body["errors"][0]["status"], "404");
        assert!(body["errors"][0]["title"].is_string());
    }
    let (_, _, list) = sixeye_get(&app, "/users", &t.admin).await;
    assert_eq!(
        list,
        json!({"data": []}),
        "another tenant's users are not listed"
    );
}

#[tokio::test]
async fn sixeye_refuses_missing_and_wrong_keys() {
    let app = TestApp::spawn().await;
    let none = app.client.get(app.url("/users")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["content-type"], "application/vnd.api+json");
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["errors"][0]["status"], "401");
    let (status, _, _) = sixeye_get(&app, "/users", "wrong").await;
    assert_eq!(status, 401);
    let (status, _, body) = sixeye_get(&app, "/users", crate::helpers::OPERATOR_TOKEN).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn sixeye_lists_every_user_across_chunks() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    create_users(&app, &t, "u", 1203).await;
    let (status, _, body) = sixeye_get(&app, "/users", &t.admin).await;
    assert_eq!(status, 200);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1203);
    let emails: std::collections::HashSet<&str> = data
        .iter()
        .map(|u| u["attributes"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 1203);
}
