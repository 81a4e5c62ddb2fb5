use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{OPERATOR_TOKEN, TestApp, expect_json, expect_problem};

#[tokio::test]
async fn a_keys_secret_is_shown_once_and_never_listed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let keys = format!("/v1/tenants/{}/api-keys", t.id);
    let created = app
        .post(
            &keys,
            &t.admin,
            &json!({"name": "deploy", "role": "reader", "description": "CI"}),
        )
        .await;
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created = expect_json(created, 201).await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("rk_"));
    assert_eq!(created["role"], "reader");

    let list = expect_json(app.get(&keys, &t.admin).await, 200).await;
    let text = list.to_string();
    assert!(!text.contains(secret) && !text.contains("secret"), "{text}");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let one = expect_json(
        app.get(
            &format!("{keys}/{}", created["id"].as_str().unwrap()),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert!(one.get("secret").is_none());
}

#[tokio::test]
async fn a_reader_key_reads_and_cannot_write() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let reader = app.api_key(&t.id, "reader").await;
    let user = app.user(&t, "a@acme.com").await;
    let group = app.group(&t, "Ops").await;
    let uid = user["id"].as_str().unwrap();
    let gid = group["id"].as_str().unwrap();
    let base = format!("/v1/tenants/{}", t.id);

    assert_eq!(
        app.get(&format!("{base}/users"), &reader).await.status(),
        200
    );
    assert_eq!(
        app.get(&format!("{base}/users/{uid}"), &reader)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&format!("{base}/groups/{gid}/members"), &reader)
            .await
            .status(),
        200
    );

    let writes = [
        app.post(
            &format!("{base}/users"),
            &reader,
            &json!({"email": "b@acme.com", "firstName": "B", "lastName": "C"}),
        )
        .await,
        app.patch(
            &format!("{base}/users/{uid}"),
            &reader,
            &json!({"firstName": "X"}),
        )
        .await,
        app.delete(&format!("{base}/users/{uid}"), &reader).await,
        app.post(&format!("{base}/groups"), &reader, &json!({"name": "Dev"}))
            .await,
        app.patch(
            &format!("{base}/groups/{gid}"),
            &reader,
            &json!({"name": "X"}),
        )
        .await,
        app.delete(&format!("{base}/groups/{gid}"), &reader).await,
        app.put(&format!("{base}/groups/{gid}/members/{uid}"), &reader)
            .await,
        app.delete(&format!("{base}/groups/{gid}/members/{uid}"), &reader)
            .await,
        app.post(
            &format!("{base}/api-keys"),
            &reader,
            &json!({"name": "x", "role": "admin"}),
        )
        .await,
    ];
    for response in writes {
        expect_problem(response, 403).await;
    }
    let after = expect_json(app.get(&format!("{base}/users/{uid}"), &reader).await, 200).await;
    assert_eq!(after, user, "nothing was written");
}

#[tokio::test]
async fn missing_wrong_revoked_and_expired_credentials_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);

    let none = app.client.get(app.url(&users)).send().await.unwrap();
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"roster\""
    );
    expect_problem(none, 401).await;
    let basic = app
        .client
        .get(app.url(&users))
        .header("authorization", format!("Basic {}", t.admin))
        .send()
        .await
        .unwrap();
    expect_problem(basic, 401).await;
    expect_problem(app.get(&users, "wrong").await, 401).await;
    // Right shape and tenant, wrong secret.
    let forged = format!("{}x", &t.admin[..t.admin.len() - 1]);
    expect_problem(app.get(&users, &forged).await, 401).await;

    let keys = format!("/v1/tenants/{}/api-keys", t.id);
    let doomed = expect_json(
        app.post(&keys, &t.admin, &json!({"name": "old", "role": "admin"}))
            .await,
        201,
    )
    .await;
    let secret = doomed["secret"].as_str().unwrap();
    assert_eq!(app.get(&users, secret).await.status(), 200);
    assert_eq!(
        app.delete(
            &format!("{keys}/{}", doomed["id"].as_str().unwrap()),
            &t.admin
        )
        .await
        .status(),
        204
    );
    expect_problem(app.get(&users, secret).await, 401).await;
    let listed = expect_json(
        app.get(
            &format!("{keys}/{}", doomed["id"].as_str().unwrap()),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert!(listed["revokedAt"].is_string());

    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let expiring = expect_json(
        app.post(
            &keys,
            &t.admin,
            &json!({"name": "brief", "role": "admin", "expiresAt": soon}),
        )
        .await,
        201,
    )
    .await;
    let secret = expiring["secret"].as_str().unwrap();
    assert_eq!(app.get(&users, secret).await.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get(&users, secret).await.status();
        if status == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the key never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let refused = expect_problem(
        app.post(
            &keys,
            &t.admin,
            &json!({"name": "x", "role": "admin", "expiresAt": past}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "expiresAt");
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_where_revoked_and_within_seconds_elsewhere() {
    let app = TestApp::spawn().await;
    let other = app.spawn_sharing(|_| {}).await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let keys = format!("/v1/tenants/{}/api-keys", t.id);
    let key = expect_json(
        app.post(&keys, &t.admin, &json!({"name": "idp", "role": "admin"}))
            .await,
        201,
    )
    .await;
    let secret = key["secret"].as_str().unwrap();
    // Both instances have verified the key, and trust it for a few seconds.
    for instance in [&app, &other] {
        assert_eq!(instance.get(&users, secret).await.status(), 200);
    }
    let revoked_at = std::time::Instant::now();
    let revoke = format!("{keys}/{}", key["id"].as_str().unwrap());
    assert_eq!(app.delete(&revoke, &t.admin).await.status(), 204);
    expect_problem(app.get(&users, secret).await, 401).await;
    // The other instance may answer from what it verified until the bound, and
    // not after it.
    let bound = Duration::from_secs(roster::service::TRUST_SECONDS);
    tokio::time::sleep((revoked_at + bound).saturating_duration_since(std::time::Instant::now()))
        .await;
    expect_problem(other.get(&users, secret).await, 401).await;
    // A tenant's deletion forgets its keys at once too.
    let gone = expect_json(
        app.post(&keys, &t.admin, &json!({"name": "gone", "role": "admin"}))
            .await,
        201,
    )
    .await;
    let gone = gone["secret"].as_str().unwrap();
    assert_eq!(app.get(&users, gone).await.status(), 200);
    assert_eq!(
        app.delete(&format!("/v1/tenants/{}", t.id), OPERATOR_TOKEN)
            .await
            .status(),
        204
    );
    expect_problem(app.get(&users, gone).await, 401).await;
}

#[tokio::test]
async fn a_keys_last_use_is_recorded() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let keys = format!("/v1/tenants/{}/api-keys", t.id);
    let key = expect_json(
        app.post(&keys, &t.admin, &json!({"name": "used", "role": "reader"}))
            .await,
        201,
    )
    .await;
    assert!(key["lastUsedAt"].is_null());
    assert_eq!(
        app.get(
            &format!("/v1/tenants/{}/users", t.id),
            key["secret"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
    let path = format!("{keys}/{}", key["id"].as_str().unwrap());
    // The use is written after the request, off its path.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let read = expect_json(app.get(&path, OPERATOR_TOKEN).await, 200).await;
        if read["lastUsedAt"].is_string() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lastUsedAt was never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_operator_and_tenant_admins_create_keys() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let keys = format!("/v1/tenants/{}/api-keys", t.id);
    let by_admin = expect_json(
        app.post(&keys, &t.admin, &json!({"name": "child", "role": "admin"}))
            .await,
        201,
    )
    .await;
    assert_eq!(
        app.get(
            &format!("/v1/tenants/{}/users", t.id),
            by_admin["secret"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
    let missing_role =
        expect_problem(app.post(&keys, &t.admin, &json!({"name": "x"})).await, 400).await;
    assert_eq!(missing_role["errors"][0]["field"], "role");
    let bad_role = expect_problem(
        app.post(&keys, &t.admin, &json!({"name": "x", "role": "owner"}))
            .await,
        400,
    )
    .await;
    assert_eq!(bad_role["errors"][0]["field"], "role");
    let unknown = app
        .request(
            Method::DELETE,
            &format!("{keys}/{}", uuid::Uuid::now_v7()),
            &t.admin,
        )
        .send()
        .await
        .unwrap();
    expect_problem(unknown, 404).await;
}
