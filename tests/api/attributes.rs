//! Tenant-declared user attributes: their declarations through /v1.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{OPERATOR_TOKEN, TestApp, expect_json, expect_problem, problem_fields};

#[tokio::test]
async fn an_admin_declares_reads_changes_and_deletes_an_attribute() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let attributes = format!("/v1/tenants/{}/attributes", t.id);
    let declared = app
        .post(
            &attributes,
            &t.admin,
            &json!({"name": "costCode", "type": "string", "unique": true,
                    "description": "Finance's code"}),
        )
        .await;
    assert_eq!(
        declared.headers()["location"],
        format!("{attributes}/costCode").as_str()
    );
    let declared = expect_json(declared, 201).await;
    assert_eq!(declared["type"], "string");
    assert_eq!(declared["multiValued"], false);
    assert_eq!(declared["unique"], true);
    assert_eq!(declared["caseExact"], false);
    assert_eq!(declared["mutability"], "readWrite");
    assert_eq!(declared["returned"], "default");

    // Found in any letter case.
    let read = app.get(&format!("{attributes}/COSTCODE"), &t.admin).await;
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(expect_json(read, 200).await["name"], "costCode");

    let changed = app
        .request(Method::PATCH, &format!("{attributes}/costCode"), &t.admin)
        .header("if-match", &etag)
        .json(&json!({"required": true, "returned": "always", "description": null}))
        .send()
        .await
        .unwrap();
    let changed = expect_json(changed, 200).await;
    assert_eq!(changed["required"], true);
    assert_eq!(changed["returned"], "always");
    assert_eq!(changed["description"], "");

    // The old ETag no longer matches.
    let stale = app
        .request(Method::DELETE, &format!("{attributes}/costCode"), &t.admin)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    expect_problem(stale, 412).await;

    let list = expect_json(app.get(&attributes, &t.admin).await, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["nextCursor"].is_null());

    assert_eq!(
        app.delete(&format!("{attributes}/costCode"), &t.admin)
            .await
            .status(),
        204
    );
    expect_problem(
        app.get(&format!("{attributes}/costCode"), &t.admin).await,
        404,
    )
    .await;

    let log = expect_json(
        app.get(&format!("/v1/tenants/{}/audit-events", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"]["kind"] == "attribute")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["attribute.declare", "attribute.update", "attribute.delete"]
    );
}

#[tokio::test]
async fn a_declaration_is_checked_and_its_name_is_unique_in_any_case() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let attributes = format!("/v1/tenants/{}/attributes", t.id);
    let refused = expect_problem(
        app.post(
            &attributes,
            &t.admin,
            &json!({"name": "2fa code", "type": "text", "mutability": "readOnly"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(problem_fields(&refused), ["name", "type", "mutability"]);

    let badge = json!({"name": "badge", "type": "integer"});
    expect_json(app.post(&attributes, &t.admin, &badge).await, 201).await;
    let taken = expect_problem(
        app.post(
            &attributes,
            &t.admin,
            &json!({"name": "BADGE", "type": "string"}),
        )
        .await,
        409,
    )
    .await;
    assert!(
        taken["detail"]
            .as_str()
            .unwrap()
            .contains("already declared")
    );

    // What values were checked against cannot change.
    let fixed = app
        .patch(
            &format!("{attributes}/badge"),
            &t.admin,
            &json!({"type": "string"}),
        )
        .await;
    expect_problem(fixed, 400).await;
}

#[tokio::test]
async fn members_read_declarations_and_another_tenant_sees_none() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let attributes = format!("/v1/tenants/{}/attributes", t.id);
    let badge = json!({"name": "badge", "type": "integer"});
    expect_json(app.post(&attributes, OPERATOR_TOKEN, &badge).await, 201).await;

    let reader = app.api_key(&t.id, "reader").await;
    expect_json(app.get(&format!("{attributes}/badge"), &reader).await, 200).await;
    expect_problem(app.post(&attributes, &reader, &badge).await, 403).await;
    expect_problem(
        app.delete(&format!("{attributes}/badge"), &reader).await,
        403,
    )
    .await;

    expect_problem(
        app.get(&format!("{attributes}/badge"), &other.admin).await,
        404,
    )
    .await;
    let theirs = format!("/v1/tenants/{}/attributes", other.id);
    let list = expect_json(app.get(&theirs, &other.admin).await, 200).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn scim_discovery_shows_a_tenants_declarations_to_that_tenant_only() {
    const EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let badge = json!({"name": "badge", "type": "integer", "unique": true, "required": true});
    let attributes = format!("/v1/tenants/{}/attributes", t.id);
    expect_json(app.post(&attributes, &t.admin, &badge).await, 201).await;

    let schema = expect_json(
        app.get(&format!("/scim/v2/Schemas/{EXTENSION}"), &t.admin)
            .await,
        200,
    )
    .await;
    let declared = &schema["attributes"][0];
    assert_eq!(declared["name"], "badge");
    assert_eq!(declared["type"], "integer");
    assert_eq!(declared["required"], true);
    assert_eq!(declared["uniqueness"], "server");
    let user_type = expect_json(app.get("/scim/v2/ResourceTypes/User", &t.admin).await, 200).await;
    assert!(
        user_type["schemaExtensions"]
            .to_string()
            .contains(EXTENSION)
    );

    // Another tenant's credential, and none at all.
    for token in [Some(other.admin.as_str()), None] {
        for path in ["/scim/v2/Schemas", "/scim/v2/ResourceTypes/User"] {
            let mut request = reqwest::Client::new().get(app.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let read = expect_json(request.send().await.unwrap(), 200).await;
            assert!(!read.to_string().contains(EXTENSION), "{path} {token:?}");
        }
    }
    let unknown = app
        .get(&format!("/scim/v2/Schemas/{EXTENSION}"), &other.admin)
        .await;
    assert_eq!(unknown.status(), 404);
}
