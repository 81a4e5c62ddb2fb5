use serde_json::{Value, json};

use crate::compat::{assert_same_shape, seed};
use crate::helpers::{OPERATOR_TOKEN, TestApp, TestTenant, expect_json};

/// Exchanges the tenant's admin key for an Anodot access token.
async fn access_token(app: &TestApp, key: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/v2/access-token"))
        .json(&json!({"refreshToken": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let token: Value = expect_json(response, 200).await;
    token
        .as_str()
        .expect("the token is a JSON string")
        .to_owned()
}

async fn anodot_get(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    expect_json(response, 200).await
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

#[tokio::test]
async fn anodot_users_match_the_seed_example() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let wiley = expect_json(
        app.post(
            &users,
            &t.admin,
            &json!({"email": "wiley.coyote@acme.com", "firstName": "Wiley", "lastName": "Coyote"}),
        )
        .await,
        201,
    )
    .await;
    let roger = expect_json(
        app.post(&users, &t.admin, &json!({"email": "roger.rabbit@acme.com", "firstName": "Roger", "lastName": "Rabbit", "role": "admin"})).await,
        201,
    )
    .await;
    let group = app.group(&t, "Toons").await;
    let roger_path = format!("{users}/{}", id(&roger));
    expect_json(
        app.patch(
            &roger_path,
            &t.admin,
            &json!({"defaultGroupId": group["id"]}),
        )
        .await,
        200,
    )
    .await;
    let store = app.store().await;
    let mut tx = store.begin().await.unwrap();
    let tenant = roster::domain::TenantId::parse(&t.id).unwrap();
    let roger_id = roster::domain::UserId::parse(id(&roger)).unwrap();
    tx.record_successful_login(tenant, roger_id, roster::domain::Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let token = access_token(&app, &t.admin).await;
    let listed = anodot_get(&app, "/api/v2/users", &token).await;
    assert_same_shape(&listed, &seed("anodot_users.json"), "$");
    assert_eq!(listed[0]["_id"], wiley["id"]);
    assert_eq!(listed[0]["roles"], json!(["customer-user"]));
    assert_eq!(listed[0]["defaultGroup"], "");
    assert!(
        listed[0].get("lastActive").is_none(),
        "absent when never active"
    );
    assert_eq!(listed[1]["roles"], json!(["customer-admin"]));
    assert_eq!(listed[1]["groups"], json!([group["id"]]));
    assert_eq!(listed[1]["defaultGroup"], group["id"]);
    assert_eq!(listed[1]["ownerOrganization"], t.id.as_str());
    assert_eq!(listed[1]["createdAt"], roger["createdAt"]);
}

#[tokio::test]
async fn anodot_groups_match_the_seed_example() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.group(&t, "Test Gr1").await;
    let second = app.group(&t, "Test Gr2").await;
    let path = format!("/v1/tenants/{}/groups/{}", t.id, id(&second));
    expect_json(
        app.patch(&path, &t.admin, &json!({"name": "Test Gr2 - rename"}))
            .await,
        200,
    )
    .await;
    let listed = anodot_get(&app, "/api/v2/groups", &t.admin).await;
    assert_same_shape(&listed, &seed("anodot_groups.json"), "$");
    assert_eq!(listed[1]["name"], "Test Gr2 - rename");
    assert_ne!(listed[1]["created"], listed[1]["modified"]);
}

#[tokio::test]
async fn the_access_token_exchange_takes_only_a_tenant_key() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let as_object = app
        .client
        .post(app.url("/api/v2/access-token?responseformat=JSON"))
        .json(&json!({"refreshToken": t.admin}))
        .send()
        .await
        .unwrap();
    let object = expect_json(as_object, 200).await;
    let token = object["token"].as_str().unwrap();
    assert_eq!(app.get("/api/v2/users", token).await.status(), 200);

    for refresh in [json!("wrong"), json!(OPERATOR_TOKEN), json!(token)] {
        let refused = app
            .client
            .post(app.url("/api/v2/access-token"))
            .json(&json!({"refreshToken": refresh}))
            .send()
            .await
            .unwrap();
        let body = expect_json(refused, 401).await;
        assert_eq!(body["status"], 401);
        assert!(body["message"].is_string());
    }
    for bad in [json!({}), json!({"refreshToken": 5}), json!([])] {
        let refused = app
            .client
            .post(app.url("/api/v2/access-token"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(expect_json(refused, 400).await["status"], 400);
    }
    assert_eq!(app.get("/api/v2/users", "rt_nonsense").await.status(), 401);
    assert_eq!(
        app.client
            .get(app.url("/api/v2/users"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // A token ends with the key it was exchanged for.
    let keys = format!("/v1/tenants/{}/api-keys", t.id);
    let key = expect_json(
        app.post(&keys, &t.admin, &json!({"name": "short", "role": "reader"}))
            .await,
        201,
    )
    .await;
    let token = access_token(&app, key["secret"].as_str().unwrap()).await;
    assert_eq!(app.get("/api/v2/groups", &token).await.status(), 200);
    assert_eq!(
        app.delete(&format!("{keys}/{}", id(&key)), &t.admin)
            .await
            .status(),
        204
    );
    assert_eq!(app.get("/api/v2/groups", &token).await.status(), 401);
}

async fn invite(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post("/api/v2/users", token, &body).await
}

#[tokio::test]
async fn inviting_users_refuses_invalid_addresses_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let refused = invite(
        &app,
        &t.admin,
        json!({"emails": ["ok@acme.com", "not-an-email", "@x.y"], "role": "customer-user"}),
    )
    .await;
    let body = expect_json(refused, 400).await;
    assert_eq!(body["validationResult"]["valid"], false);
    let failures: Vec<&str> = body["validationResult"]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["email"].as_str().unwrap())
        .collect();
    assert_eq!(failures, ["not-an-email", "@x.y"]);
    assert!(app.all_users(&t).await.is_empty());

    for bad in [
        json!({"emails": []}),
        json!({"emails": ["a@acme.com"], "role": "owner"}),
        json!({"emails": ["a@acme.com"], "groups": ["nope"]}),
        json!({"emails": ["a@acme.com"], "groups": [uuid::Uuid::now_v7()]}),
        json!({"emails": "a@acme.com"}),
        json!({"emails": ["a@acme.com"], "extra": 1}),
    ] {
        let response = invite(&app, &t.admin, bad.clone()).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    assert!(app.all_users(&t).await.is_empty());
    let reader = app.api_key(&t.id, "reader").await;
    assert_eq!(
        invite(&app, &reader, json!({"emails": ["a@acme.com"]}))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn invited_users_round_trip_through_the_other_faces() {
    let app = TestApp::spawn().await;
    let t: TestTenant = app.tenant().await;
    app.user(&t, "taken@acme.com").await;
    let group = app.group(&t, "Ops").await;
    let body = json!({
        "emails": ["new@acme.com", "TAKEN@acme.com", "admin@acme.com"],
        "groups": [group["id"]],
        "defaultGroup": group["id"],
        "role": "customer-admin",
    });
    let outcome = expect_json(invite(&app, &t.admin, body).await, 200).await;
    assert_eq!(outcome["validationResult"]["valid"], true);
    assert_eq!(
        outcome["validationResult"]["failures"][0]["email"],
        "TAKEN@acme.com"
    );
    let invited = outcome["users"].as_array().unwrap();
    assert_eq!(invited.len(), 2);
    assert_eq!(invited[0]["groups"], json!([group["id"]]));
    assert_eq!(invited[0]["defaultGroup"], group["id"]);
    assert_eq!(invited[0]["roles"], json!(["customer-admin"]));

    // Native face: a pending admin in the group, with that default group.
    let uid = invited[0]["_id"].as_str().unwrap();
    let native_path = format!("/v1/tenants/{}/users/{uid}", t.id);
    let native = expect_json(app.get(&native_path, &t.admin).await, 200).await;
    assert_eq!(
        (native["status"].as_str(), native["role"].as_str()),
        (Some("pending"), Some("admin"))
    );
    assert_eq!(native["defaultGroupId"], group["id"]);
    assert_eq!(native["email"], "new@acme.com");
    // SixEye face.
    let sixeye = expect_json(app.get(&format!("/users/{uid}"), &t.admin).await, 200).await;
    assert_eq!(sixeye["data"]["attributes"]["tenantAdmin"], true);
    // Changed on the native face, seen on Anodot's.
    expect_json(
        app.patch(
            &native_path,
            &t.admin,
            &json!({"firstName": "Nova", "status": "disabled"}),
        )
        .await,
        200,
    )
    .await;
    let listed = anodot_get(&app, "/api/v2/users", &t.admin).await;
    let nova = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["_id"] == uid)
        .unwrap();
    assert_eq!(nova["firstName"], "Nova");
    assert_eq!(nova["disabled"], true);
}

#[tokio::test]
async fn groups_are_created_on_the_anodot_face() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let created = expect_json(
        app.post("/api/v2/groups", &t.admin, &json!({"name": "Analysts"}))
            .await,
        200,
    )
    .await;
    assert_eq!(created["name"], "Analysts");
    let native = expect_json(
        app.get(
            &format!("/v1/tenants/{}/groups/{}", t.id, id(&created)),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(native["owner"], "LOCAL");
    assert_eq!(
        expect_json(
            app.post("/api/v2/groups", &t.admin, &json!({"name": "analysts"}))
                .await,
            409
        )
        .await["status"],
        409
    );
    for bad in [json!({"name": ""}), json!({"name": 1}), json!({})] {
        assert_eq!(
            app.post("/api/v2/groups", &t.admin, &bad).await.status(),
            400,
            "{bad}"
        );
    }
    let listed = anodot_get(&app, "/api/v2/groups", &t.admin).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn anodot_lists_hold_only_the_callers_tenant() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    app.user(&b, "b@globex.com").await;
    app.group(&b, "B").await;
    assert_eq!(anodot_get(&app, "/api/v2/users", &a.admin).await, json!([]));
    assert_eq!(
        anodot_get(&app, "/api/v2/groups", &a.admin).await,
        json!([])
    );
    assert_eq!(app.get("/api/v2/users", OPERATOR_TOKEN).await.status(), 403);
}

#[tokio::test]
async fn the_invite_reply_equals_what_is_then_listed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mut ids: Vec<String> = Vec::new();
    for name in ["one", "two", "three"] {
        ids.push(app.group(&t, name).await["id"].as_str().unwrap().to_owned());
    }
    // Groups named out of id order, one twice, and a default group not among them.
    let reply = expect_json(
        invite(
            &app,
            &t.admin,
            json!({"emails": ["Mixed.Case@Acme.com", "second@acme.com"],
                   "groups": [ids[2], ids[0], ids[2]],
                   "defaultGroup": ids[1],
                   "role": "customer-admin"}),
        )
        .await,
        200,
    )
    .await;
    let invited = reply["users"].as_array().unwrap();
    assert_eq!(invited.len(), 2, "{reply}");
    let listed = expect_json(app.get("/api/v2/users", &t.admin).await, 200).await;
    let listed = listed.as_array().unwrap();
    for user in invited {
        let stored = listed
            .iter()
            .find(|l| l["_id"] == user["_id"])
            .unwrap_or_else(|| panic!("{user} is listed"));
        assert_eq!(user, stored);
    }
}
