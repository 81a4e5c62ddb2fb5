//! A credential of tenant A finds nothing of tenant B: B's objects are answered
//! exactly as ids that never existed.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, expect_json, expect_problem};

#[tokio::test]
async fn another_tenants_objects_are_not_found_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let b_user = app.user(&b, "b@globex.com").await;
    let b_group = app.group(&b, "B team").await;
    let (uid, gid) = (
        b_user["id"].as_str().unwrap(),
        b_group["id"].as_str().unwrap(),
    );
    let b_key = expect_json(
        app.get(&format!("/v1/tenants/{}/api-keys", b.id), &b.admin)
            .await,
        200,
    )
    .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_body = json!({"email": "x@acme.com", "firstName": "x", "lastName": "y"});

    // B's tenant path with A's key: every endpoint says the tenant does not exist.
    let bt = format!("/v1/tenants/{}", b.id);
    let requests: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, bt.clone(), None),
        (Method::GET, format!("{bt}/users"), None),
        (Method::POST, format!("{bt}/users"), Some(user_body.clone())),
        (Method::GET, format!("{bt}/users/{uid}"), None),
        (
            Method::PATCH,
            format!("{bt}/users/{uid}"),
            Some(json!({"firstName": "Mallory"})),
        ),
        (Method::DELETE, format!("{bt}/users/{uid}"), None),
        (Method::GET, format!("{bt}/users/{uid}/groups"), None),
        (Method::GET, format!("{bt}/groups"), None),
        (
            Method::POST,
            format!("{bt}/groups"),
            Some(json!({"name": "Intruders"})),
        ),
        (Method::GET, format!("{bt}/groups/{gid}"), None),
        (
            Method::PATCH,
            format!("{bt}/groups/{gid}"),
            Some(json!({"name": "Pwned"})),
        ),
        (Method::DELETE, format!("{bt}/groups/{gid}"), None),
        (Method::GET, format!("{bt}/groups/{gid}/members"), None),
        (
            Method::PUT,
            format!("{bt}/groups/{gid}/members/{uid}"),
            None,
        ),
        (
            Method::DELETE,
            format!("{bt}/groups/{gid}/members/{uid}"),
            None,
        ),
        (Method::GET, format!("{bt}/api-keys"), None),
        (
            Method::POST,
            format!("{bt}/api-keys"),
            Some(json!({"name": "x", "role": "admin"})),
        ),
        (Method::GET, format!("{bt}/api-keys/{b_key}"), None),
        (Method::DELETE, format!("{bt}/api-keys/{b_key}"), None),
    ];
    let never_existed = format!("/v1/tenants/{}", uuid::Uuid::now_v7());
    for (method, path, body) in requests {
        let mut request = app.request(method.clone(), &path, &a.admin);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let foreign = expect_problem(request.send().await.unwrap(), 404).await;
        // Exactly as a tenant that never existed.
        let mut request = app.request(method.clone(), &path.replace(&bt, &never_existed), &a.admin);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let missing = expect_problem(request.send().await.unwrap(), 404).await;
        assert_eq!(foreign, missing, "{method} {path}");
    }

    // B's ids under A's own tenant path are unknown ids.
    let at = format!("/v1/tenants/{}", a.id);
    expect_problem(app.get(&format!("{at}/users/{uid}"), &a.admin).await, 404).await;
    expect_problem(app.get(&format!("{at}/groups/{gid}"), &a.admin).await, 404).await;
    expect_problem(
        app.get(&format!("{at}/api-keys/{b_key}"), &a.admin).await,
        404,
    )
    .await;
    let a_group = app.group(&a, "A team").await;
    let cross = format!(
        "{at}/groups/{}/members/{uid}",
        a_group["id"].as_str().unwrap()
    );
    assert_eq!(
        expect_problem(app.put(&cross, &a.admin).await, 404).await["detail"],
        "user not found"
    );
    let a_user = app.user(&a, "a@acme.com").await;
    let default_elsewhere = app
        .patch(
            &format!("{at}/users/{}", a_user["id"].as_str().unwrap()),
            &a.admin,
            &json!({"defaultGroupId": gid}),
        )
        .await;
    expect_problem(default_elsewhere, 400).await;
    expect_problem(
        app.get(&format!("{at}/users?groupId={gid}"), &a.admin)
            .await,
        404,
    )
    .await;

    // Nothing of B changed, and B's lists hold only B's objects.
    assert_eq!(
        expect_json(app.get(&format!("{bt}/users/{uid}"), &b.admin).await, 200).await,
        b_user
    );
    assert_eq!(
        expect_json(app.get(&format!("{bt}/groups/{gid}"), &b.admin).await, 200).await,
        b_group
    );
    assert_eq!(app.all_users(&b).await.len(), 1);
    let b_groups = expect_json(app.get(&format!("{bt}/groups"), &b.admin).await, 200).await;
    assert_eq!(b_groups["items"].as_array().unwrap().len(), 1);
    let a_users = app.all_users(&a).await;
    assert_eq!(a_users.len(), 1);
}
