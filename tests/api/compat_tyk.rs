use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::compat::{assert_same_shape, seed};
use crate::helpers::{OPERATOR_TOKEN, TestApp, create_users, expect_json};

/// A Tyk request: the key in `authorization` with no scheme word.
async fn tyk(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("authorization", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

/// The Dashboard's user without what Roster adds to the seed's example.
fn as_in_seed(mut user: Value) -> Value {
    user.as_object_mut().unwrap().remove("user_permissions");
    user
}

fn assert_error(body: &Value) {
    assert_eq!(body["Status"], "Error", "{body}");
    assert!(body["Message"].is_string(), "{body}");
    assert!(body["Meta"].is_null(), "{body}");
}

#[tokio::test]
async fn tyk_users_match_the_seed_examples() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    for (first, last, email) in [
        ("John", "Smith", "john@jive.ly"),
        ("Test", "User", "banana@test.com"),
    ] {
        let body = json!({"email": email, "firstName": first, "lastName": last, "password": "correct horse battery"});
        expect_json(app.post(&users, &t.admin, &body).await, 201).await;
    }
    let (status, mut listed) = tyk(&app, Method::GET, "/api/users", &t.admin, None).await;
    assert_eq!(status, 200);
    let items: Vec<Value> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(as_in_seed)
        .collect();
    listed["users"] = Value::Array(items);
    assert_same_shape(&listed, &seed("tyk_users.json"), "$");
    assert_eq!(listed["pages"], 0);
    assert_eq!(listed["users"][0]["password"], "", "never the hash");
    assert_eq!(listed["users"][0]["access_key"], "");
    assert_eq!(listed["users"][0]["org_id"], t.id.as_str());

    let id = listed["users"][1]["id"].as_str().unwrap().to_owned();
    let (status, one) = tyk(
        &app,
        Method::GET,
        &format!("/api/users/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_same_shape(&as_in_seed(one.clone()), &seed("tyk_user.json"), "$");
    assert_eq!(one["email_address"], "banana@test.com");
    assert_eq!(
        one["user_permissions"],
        json!({"user_groups": "read", "users": "read"})
    );

    let (status, updated) = tyk(
        &app,
        Method::PUT,
        &format!("/api/users/{id}"),
        &t.admin,
        Some(json!({"last_name": "Jasonsonson"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_same_shape(
        &as_in_seed(updated.clone()),
        &seed("tyk_user_updated.json"),
        "$",
    );
    assert_eq!(updated["last_name"], "Jasonsonson");

    let (status, reset) = tyk(
        &app,
        Method::POST,
        &format!("/api/users/{id}/actions/reset"),
        &t.admin,
        Some(json!({"new_password": "a much longer passphrase"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reset, seed("tyk_password_updated.json"));

    let (status, deleted) = tyk(
        &app,
        Method::DELETE,
        &format!("/api/users/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(deleted, seed("tyk_user_deleted.json"));
}

#[tokio::test]
async fn a_user_created_on_tyk_gets_a_personal_key_that_acts_as_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body = json!({"first_name": "Jason", "last_name": "Jasonson", "email_address": "jason@jasonsonson.com", "active": true,
                      "user_permissions": {"IsAdmin": "admin"}});
    let (status, created) = tyk(&app, Method::POST, "/api/users", &t.admin, Some(body)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (created["Status"].as_str(), created["Message"].as_str()),
        (Some("OK"), Some("User created"))
    );
    let admin_key = created["Meta"]["access_key"].as_str().unwrap().to_owned();
    let admin_id = created["Meta"]["id"].as_str().unwrap().to_owned();
    assert!(admin_key.starts_with("ru_"));
    assert_eq!(created["Meta"]["user_permissions"]["IsAdmin"], "admin");

    // The personal key acts as its user: an admin may create a member…
    let member =
        json!({"first_name": "M", "last_name": "M", "email_address": "member@jasonsonson.com"});
    let (status, member) = tyk(&app, Method::POST, "/api/users", &admin_key, Some(member)).await;
    assert_eq!(status, 200, "{member}");
    let member_key = member["Meta"]["access_key"].as_str().unwrap().to_owned();
    // …who reads the directory and cannot change it.
    assert_eq!(
        tyk(&app, Method::GET, "/api/users", &member_key, None)
            .await
            .0,
        200
    );
    let (status, refused) = tyk(
        &app,
        Method::POST,
        "/api/users",
        &member_key,
        Some(json!({"email_address": "x@y.zz"})),
    )
    .await;
    assert_eq!(status, 403);
    assert_error(&refused);
    // Bearer works on the other faces with the same key.
    assert_eq!(app.get("/users", &admin_key).await.status(), 200);
    // The key is shown once: reads show an empty access_key.
    let (_, read) = tyk(
        &app,
        Method::GET,
        &format!("/api/users/{admin_id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(read["access_key"], "");

    // Resetting the key ends the old one.
    let (status, reset) = tyk(
        &app,
        Method::PUT,
        &format!("/api/users/{admin_id}/actions/key/reset"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let new_key = reset["Meta"]["access_key"].as_str().unwrap();
    assert_ne!(new_key, admin_key);
    assert_eq!(
        tyk(&app, Method::GET, "/api/users", &admin_key, None)
            .await
            .0,
        401
    );
    assert_eq!(
        tyk(&app, Method::GET, "/api/users", new_key, None).await.0,
        200
    );

    // Disabling the user rests its key.
    let (status, _) = tyk(
        &app,
        Method::PUT,
        &format!("/api/users/{admin_id}"),
        &t.admin,
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        tyk(&app, Method::GET, "/api/users", new_key, None).await.0,
        401
    );
}

#[tokio::test]
async fn tyk_round_trips_through_the_other_faces() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (_, created) = tyk(
        &app,
        Method::POST,
        "/api/users",
        &t.admin,
        Some(json!({"email_address": "rt@acme.com", "first_name": "Round", "last_name": "Trip"})),
    )
    .await;
    let id = created["Meta"]["id"].as_str().unwrap().to_owned();
    let native_path = format!("/v1/tenants/{}/users/{id}", t.id);
    let native = expect_json(app.get(&native_path, &t.admin).await, 200).await;
    assert_eq!(
        (
            native["email"].as_str(),
            native["status"].as_str(),
            native["role"].as_str()
        ),
        (Some("rt@acme.com"), Some("active"), Some("member"))
    );
    assert_eq!(
        native["hasPassword"], false,
        "created with no usable password"
    );
    let sixeye = expect_json(app.get(&format!("/users/{id}"), &t.admin).await, 200).await;
    assert_eq!(sixeye["data"]["attributes"]["lastName"], "Trip");
    let anodot = expect_json(app.get("/api/v2/users", &t.admin).await, 200).await;
    assert_eq!(anodot[0]["_id"], id.as_str());

    expect_json(
        app.patch(
            &native_path,
            &t.admin,
            &json!({"firstName": "Changed", "role": "admin"}),
        )
        .await,
        200,
    )
    .await;
    let (_, read) = tyk(
        &app,
        Method::GET,
        &format!("/api/users/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(read["first_name"], "Changed");
    assert_eq!(read["user_permissions"]["IsAdmin"], "admin");

    // A password set on Tyk follows the one policy, and shows on the native face.
    let (status, weak) = tyk(
        &app,
        Method::POST,
        &format!("/api/users/{id}/actions/reset"),
        &t.admin,
        Some(json!({"new_password": "short"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_error(&weak);
    let (status, _) = tyk(
        &app,
        Method::POST,
        &format!("/api/users/{id}/actions/reset"),
        &t.admin,
        Some(json!({"new_password": "long enough passphrase"})),
    )
    .await;
    assert_eq!(status, 200);
    let native = expect_json(app.get(&native_path, &t.admin).await, 200).await;
    assert_eq!(native["hasPassword"], true);
    assert!(native["login"]["passwordChangedAt"].is_string());
}

#[tokio::test]
async fn tyk_pages_over_a_thousand_users_by_number() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let made: HashSet<String> = create_users(&app, &t, "tyk", 1005)
        .await
        .into_iter()
        .collect();
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let (status, body) = tyk(
            &app,
            Method::GET,
            &format!("/api/users?p={page}"),
            &t.admin,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["pages"], 101);
        let users = body["users"].as_array().unwrap();
        if users.is_empty() {
            break;
        }
        assert!(users.len() <= 10);
        seen.extend(users.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        page += 1;
    }
    assert_eq!(page, 102);
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no user twice");
    assert_eq!(unique, made, "every user once");
    let (_, all) = tyk(&app, Method::GET, "/api/users?p=-1", &t.admin, None).await;
    assert_eq!(all["users"].as_array().unwrap().len(), 1005);
    assert_eq!(all["pages"], 0);
    let (status, body) = tyk(&app, Method::GET, "/api/users?p=abc", &t.admin, None).await;
    assert_eq!(status, 400);
    assert_error(&body);
}

#[tokio::test]
async fn tyk_user_groups_map_onto_groups() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (status, created) = tyk(
        &app,
        Method::POST,
        "/api/usergroups",
        &t.admin,
        Some(json!({"name": "Analysts", "description": "Read-only"})),
    )
    .await;
    assert_eq!(
        (status, created["Message"].as_str()),
        (200, Some("User group created"))
    );
    let id = created["Meta"]["id"].as_str().unwrap().to_owned();
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/groups/{id}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["description"], "Read-only");
    let (status, body) = tyk(
        &app,
        Method::PUT,
        &format!("/api/usergroups/{id}"),
        &t.admin,
        Some(json!({"name": "Analysts EU"})),
    )
    .await;
    assert_eq!(
        (status, body["Message"].as_str()),
        (200, Some("User group updated"))
    );
    let (_, read) = tyk(
        &app,
        Method::GET,
        &format!("/api/usergroups/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(
        (read["name"].as_str(), read["org_id"].as_str()),
        (Some("Analysts EU"), Some(t.id.as_str()))
    );
    let (_, list) = tyk(&app, Method::GET, "/api/usergroups", &t.admin, None).await;
    assert_eq!(list["groups"].as_array().unwrap().len(), 1);
    assert_eq!(list["pages"], 0);
    let (status, dup) = tyk(
        &app,
        Method::POST,
        "/api/usergroups",
        &t.admin,
        Some(json!({"name": "analysts eu"})),
    )
    .await;
    assert_eq!(status, 409);
    assert_error(&dup);
    let (status, body) = tyk(
        &app,
        Method::DELETE,
        &format!("/api/usergroups/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(
        (status, body["Message"].as_str()),
        (200, Some("User group deleted"))
    );
    let (status, missing) = tyk(
        &app,
        Method::GET,
        &format!("/api/usergroups/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_error(&missing);
}

#[tokio::test]
async fn tyk_answers_bad_input_and_bad_auth_in_its_own_shape() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let foreign = app.user(&other, "x@globex.com").await;
    let foreign_id = foreign["id"].as_str().unwrap();

    let none = app.client.get(app.url("/api/users")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_error(&none.json().await.unwrap());
    for key in ["wrong", OPERATOR_TOKEN] {
        let (status, body) = tyk(&app, Method::GET, "/api/users", key, None).await;
        assert!(status == 401 || status == 403, "{status}");
        assert_error(&body);
    }
    for path in [
        format!("/api/users/{foreign_id}"),
        "/api/users/not-an-id".to_owned(),
        format!("/api/users/{}", uuid::Uuid::now_v7()),
    ] {
        let (status, body) = tyk(&app, Method::GET, &path, &t.admin, None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["Message"], "User not found");
    }
    let (status, _) = tyk(
        &app,
        Method::PUT,
        &format!("/api/users/{foreign_id}"),
        &t.admin,
        Some(json!({"first_name": "Mallory"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = tyk(
        &app,
        Method::DELETE,
        &format!("/api/users/{foreign_id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(status, 404);

    for bad in [
        json!({"first_name": "No email"}),
        json!({"email_address": "not-an-email"}),
        json!({"email_address": 5}),
        json!({"email_address": "a@b.co", "active": "yes"}),
        json!([1]),
    ] {
        let (status, body) = tyk(
            &app,
            Method::POST,
            "/api/users",
            &t.admin,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert_error(&body);
    }
    let malformed = app
        .client
        .post(app.url("/api/users"))
        .header("authorization", &t.admin)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let huge = json!({"email_address": "a@b.co", "first_name": "x".repeat(2 * 1024 * 1024)});
    let (status, body) = tyk(&app, Method::POST, "/api/users", &t.admin, Some(huge)).await;
    assert_eq!(status, 413);
    assert_error(&body);
    let (_, created) = tyk(
        &app,
        Method::POST,
        "/api/users",
        &t.admin,
        Some(json!({"email_address": "dup@acme.com"})),
    )
    .await;
    assert_eq!(created["Status"], "OK");
    let (status, body) = tyk(
        &app,
        Method::POST,
        "/api/users",
        &t.admin,
        Some(json!({"email_address": "DUP@acme.com"})),
    )
    .await;
    assert_eq!(status, 409);
    assert_error(&body);
    assert_eq!(app.all_users(&t).await.len(), 1, "nothing else was written");
    assert_eq!(app.all_users(&other).await.len(), 1);
}
