use serde_json::json;

use crate::helpers::{TestApp, expect_json, expect_problem};

#[tokio::test]
async fn a_group_is_created_read_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let groups = format!("/v1/tenants/{}/groups", t.id);
    let created = expect_json(
        app.post(
            &groups,
            &t.admin,
            &json!({"name": "Ops", "description": "On call", "federatedAttributeValues": ["ops"]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["owner"], "LOCAL");
    assert_eq!(created["federatedAttributeValues"], json!(["ops"]));
    let path = format!("{groups}/{}", created["id"].as_str().unwrap());
    assert_eq!(
        expect_json(app.get(&path, &t.admin).await, 200).await,
        created
    );

    let changed = expect_json(
        app.patch(&path, &t.admin, &json!({"name": "Operations"}))
            .await,
        200,
    )
    .await;
    assert_eq!(changed["name"], "Operations");
    assert_eq!(changed["description"], "On call");

    let list = expect_json(app.get(&groups, &t.admin).await, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["nextCursor"].is_null());

    assert_eq!(app.delete(&path, &t.admin).await.status(), 204);
    expect_problem(app.get(&path, &t.admin).await, 404).await;
}

#[tokio::test]
async fn group_names_are_unique_regardless_of_case() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.group(&t, "Ops").await;
    let groups = format!("/v1/tenants/{}/groups", t.id);
    let clash = expect_problem(
        app.post(&groups, &t.admin, &json!({"name": "OPS"})).await,
        409,
    )
    .await;
    assert_eq!(clash["errors"][0]["field"], "name");
    let other = app.group(&t, "Dev").await;
    let rename = format!("{groups}/{}", other["id"].as_str().unwrap());
    expect_problem(
        app.patch(&rename, &t.admin, &json!({"name": "ops"})).await,
        409,
    )
    .await;
}

#[tokio::test]
async fn members_are_added_listed_and_removed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let group = app.group(&t, "Ops").await;
    let gid = group["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let user = app.user(&t, &format!("u{i}@acme.com")).await;
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let path = format!("/v1/tenants/{}/groups/{gid}/members/{id}", t.id);
        assert_eq!(app.put(&path, &t.admin).await.status(), 204);
        assert_eq!(
            app.put(&path, &t.admin).await.status(),
            204,
            "adding twice is harmless"
        );
    }
    let members = format!("/v1/tenants/{}/groups/{gid}/members", t.id);
    let first = expect_json(app.get(&format!("{members}?limit=2"), &t.admin).await, 200).await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = expect_json(
        app.get(&format!("{members}?limit=2&cursor={cursor}"), &t.admin)
            .await,
        200,
    )
    .await;
    let listed: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());

    let remove = format!("/v1/tenants/{}/groups/{gid}/members/{}", t.id, ids[0]);
    assert_eq!(app.delete(&remove, &t.admin).await.status(), 204);
    expect_problem(app.delete(&remove, &t.admin).await, 404).await;

    // Deleting a member user removes its membership too.
    assert_eq!(
        app.delete(&format!("/v1/tenants/{}/users/{}", t.id, ids[1]), &t.admin)
            .await
            .status(),
        204
    );
    let left = expect_json(app.get(&members, &t.admin).await, 200).await;
    let left: Vec<&str> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, [ids[2].as_str()]);
}

#[tokio::test]
async fn memberships_of_missing_users_or_groups_are_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let group = app.group(&t, "Ops").await;
    let user = app.user(&t, "a@acme.com").await;
    let nobody = uuid::Uuid::now_v7();
    let missing_user = format!(
        "/v1/tenants/{}/groups/{}/members/{nobody}",
        t.id,
        group["id"].as_str().unwrap()
    );
    assert_eq!(
        expect_problem(app.put(&missing_user, &t.admin).await, 404).await["detail"],
        "user not found"
    );
    let missing_group = format!(
        "/v1/tenants/{}/groups/{nobody}/members/{}",
        t.id,
        user["id"].as_str().unwrap()
    );
    assert_eq!(
        expect_problem(app.put(&missing_group, &t.admin).await, 404).await["detail"],
        "group not found"
    );
    expect_problem(
        app.get(
            &format!("/v1/tenants/{}/groups/{nobody}/members", t.id),
            &t.admin,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn deleting_a_group_keeps_its_members() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let group = app.group(&t, "Ops").await;
    let user = app.user(&t, "a@acme.com").await;
    let gpath = format!(
        "/v1/tenants/{}/groups/{}",
        t.id,
        group["id"].as_str().unwrap()
    );
    let upath = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        user["id"].as_str().unwrap()
    );
    assert_eq!(
        app.put(
            &format!("{gpath}/members/{}", user["id"].as_str().unwrap()),
            &t.admin
        )
        .await
        .status(),
        204
    );
    assert_eq!(app.delete(&gpath, &t.admin).await.status(), 204);
    assert_eq!(app.get(&upath, &t.admin).await.status(), 200);
    let groups = expect_json(app.get(&format!("{upath}/groups"), &t.admin).await, 200).await;
    assert!(groups["items"].as_array().unwrap().is_empty());
}
