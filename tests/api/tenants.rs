use serde_json::json;

use crate::helpers::{OPERATOR_TOKEN, TestApp, expect_json, expect_problem};

#[tokio::test]
async fn health_answers_and_readiness_checks_the_database() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn the_operator_creates_lists_reads_renames_and_deletes_tenants() {
    let app = TestApp::spawn().await;
    let created = app
        .post("/v1/tenants", OPERATOR_TOKEN, &json!({"name": "Acme"}))
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let tenant = expect_json(created, 201).await;
    let id = tenant["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(location, format!("/v1/tenants/{id}"));
    assert_eq!(tenant["name"], "Acme");

    let other = expect_json(
        app.post("/v1/tenants", OPERATOR_TOKEN, &json!({"name": "Globex"}))
            .await,
        201,
    )
    .await;
    let list = expect_json(app.get("/v1/tenants?limit=1", OPERATOR_TOKEN).await, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let cursor = list["nextCursor"].as_str().expect("a second page");
    let rest = expect_json(
        app.get(
            &format!("/v1/tenants?limit=1&cursor={cursor}"),
            OPERATOR_TOKEN,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["items"][0]["id"], other["id"]);
    assert!(rest["nextCursor"].is_null());

    let renamed = expect_json(
        app.patch(
            &format!("/v1/tenants/{id}"),
            OPERATOR_TOKEN,
            &json!({"name": "Acme Corp"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["name"], "Acme Corp");
    let read = expect_json(
        app.get(&format!("/v1/tenants/{id}"), OPERATOR_TOKEN).await,
        200,
    )
    .await;
    assert_eq!(read["name"], "Acme Corp");

    assert_eq!(
        app.delete(&format!("/v1/tenants/{id}"), OPERATOR_TOKEN)
            .await
            .status(),
        204
    );
    expect_problem(
        app.get(&format!("/v1/tenants/{id}"), OPERATOR_TOKEN).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn deleting_a_tenant_deletes_everything_of_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let user = app.user(&tenant, "a@acme.com").await;
    let group = app.group(&tenant, "Ops").await;
    let member = format!(
        "/v1/tenants/{}/groups/{}/members/{}",
        tenant.id,
        group["id"].as_str().unwrap(),
        user["id"].as_str().unwrap()
    );
    assert_eq!(app.put(&member, &tenant.admin).await.status(), 204);

    assert_eq!(
        app.delete(&format!("/v1/tenants/{}", tenant.id), OPERATOR_TOKEN)
            .await
            .status(),
        204
    );
    // Its keys no longer authenticate, and the operator finds none of its objects.
    expect_problem(
        app.get(&format!("/v1/tenants/{}/users", tenant.id), &tenant.admin)
            .await,
        401,
    )
    .await;
    expect_problem(
        app.get(
            &format!(
                "/v1/tenants/{}/users/{}",
                tenant.id,
                user["id"].as_str().unwrap()
            ),
            OPERATOR_TOKEN,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn only_the_operator_manages_tenants() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    expect_problem(
        app.post("/v1/tenants", &tenant.admin, &json!({"name": "Mine"}))
            .await,
        403,
    )
    .await;
    expect_problem(app.get("/v1/tenants", &tenant.admin).await, 403).await;
    expect_problem(
        app.delete(&format!("/v1/tenants/{}", tenant.id), &tenant.admin)
            .await,
        403,
    )
    .await;
    expect_problem(
        app.patch(
            &format!("/v1/tenants/{}", tenant.id),
            &tenant.admin,
            &json!({"name": "x"}),
        )
        .await,
        403,
    )
    .await;
    // A tenant's own key may read its tenant.
    let own = expect_json(
        app.get(&format!("/v1/tenants/{}", tenant.id), &tenant.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(own["id"], tenant.id.as_str());
}

#[tokio::test]
async fn the_openapi_document_describes_the_api_and_is_browsable() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/v1/tenants",
        "/v1/tenants/{tenantId}/users",
        "/v1/tenants/{tenantId}/users/{userId}",
        "/v1/tenants/{tenantId}/groups/{groupId}/members/{userId}",
        "/v1/tenants/{tenantId}/api-keys",
        "/v1/tenants/{tenantId}/auth/login",
        "/v1/tenants/{tenantId}/auth/two-factor/totp",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    // Each body names its own schema: two types of one name would silently share one.
    let login = doc["paths"]["/v1/tenants/{tenantId}/auth/login"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap();
    let login = &doc["components"]["schemas"][login.rsplit('/').next().unwrap()];
    for field in ["email", "password", "twoFactorCode"] {
        assert!(login["properties"][field].is_object(), "{field}: {login}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    expect_problem(app.get("/v1/nothing-here", OPERATOR_TOKEN).await, 404).await;
    expect_problem(app.put("/v1/tenants", OPERATOR_TOKEN).await, 405).await;
}
