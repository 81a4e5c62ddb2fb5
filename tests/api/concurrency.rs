use serde_json::json;

use crate::helpers::{TestApp, expect_json};

#[tokio::test]
async fn twenty_concurrent_creates_of_one_email_make_one_user() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let path = format!("/v1/tenants/{}/users", t.id);
    let attempts = (0..20).map(|i| {
        // The same address in varying letter case.
        let email = if i % 2 == 0 {
            "Race@Acme.com"
        } else {
            "race@acme.COM"
        };
        let body = json!({"email": email, "firstName": format!("n{i}"), "lastName": "x"});
        let (app, path, admin) = (&app, path.clone(), t.admin.clone());
        async move { app.post(&path, &admin, &body).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let listed = expect_json(
        app.get(&format!("{path}?email=race@acme.com"), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_changes_to_one_user_all_apply() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = app.user(&t, "a@acme.com").await;
    let path = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        user["id"].as_str().unwrap()
    );
    let changes = (0..10).map(|i| {
        let (app, path, admin) = (&app, path.clone(), t.admin.clone());
        async move {
            app.patch(&path, &admin, &json!({"firstName": format!("n{i}")}))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(changes).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let read = app.get(&path, &t.admin).await;
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let version: i64 = etag.trim_matches('"').parse().unwrap();
    assert!(version > 1 && version <= 11, "{etag}");
}
