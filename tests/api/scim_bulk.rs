//! SCIM /Bulk (RFC 7644 §3.7).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant};
use crate::scim::{GROUP, PATCH, USER, expect_error, expect_scim, scim};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Posts a bulk request of these operations and answers the reply's operations.
async fn bulk(app: &TestApp, t: &TestTenant, operations: Value) -> Vec<Value> {
    bulk_with(app, &t.admin, json!({ "Operations": operations })).await
}

async fn bulk_with(app: &TestApp, token: &str, mut body: Value) -> Vec<Value> {
    body["schemas"] = json!([BULK_REQUEST]);
    let reply = expect_scim(
        scim(app, Method::POST, "/Bulk", token, Some(body)).await,
        200,
    )
    .await;
    assert_eq!(reply["schemas"], json!([BULK_RESPONSE]), "{reply}");
    reply["Operations"].as_array().unwrap().clone()
}

fn user(user_name: &str) -> Value {
    json!({ "schemas": [USER], "userName": user_name })
}

async fn get(app: &TestApp, t: &TestTenant, location: &Value) -> Value {
    let path = location.as_str().unwrap().split("/scim/v2").nth(1).unwrap();
    expect_scim(scim(app, Method::GET, path, &t.admin, None).await, 200).await
}

#[tokio::test]
async fn a_bulk_request_creates_users_and_groups_that_name_each_other_by_bulk_id() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let results = bulk(
        &app,
        &t,
        json!([
            { "method": "POST", "path": "/Users", "bulkId": "ada", "data": user("ada@example.com") },
            { "method": "POST", "path": "/Groups", "bulkId": "eng",
              "data": { "schemas": [GROUP], "displayName": "Engineers",
                        "members": [{ "value": "bulkId:ada" }] } },
            // Names a user whose POST comes later: it waits for it.
            { "method": "PATCH", "path": "/Groups/bulkId:eng",
              "data": { "schemas": [PATCH], "Operations": [
                  { "op": "add", "path": "members", "value": [{ "value": "bulkId:bob" }] }] } },
            { "method": "POST", "path": "/Users", "bulkId": "bob", "data": user("bob@example.com") },
            { "method": "PUT", "path": "/Users/bulkId:ada",
              "data": { "schemas": [USER], "userName": "ada", "emails": [{ "value": "ada@example.com" }] } },
        ]),
    )
    .await;
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["201", "201", "200", "201", "200"],
        "{results:#?}"
    );
    let methods: Vec<&str> = results
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["POST", "POST", "PATCH", "POST", "PUT"]);
    assert_eq!(results[0]["bulkId"], "ada");
    assert_eq!(results[0]["version"], "W/\"1\"");
    assert!(results[0].get("response").is_none());

    let ada = get(&app, &t, &results[0]["location"]).await;
    let bob = get(&app, &t, &results[3]["location"]).await;
    assert_eq!(ada["userName"], "ada", "the PUT named ada by her bulkId");
    let group = get(&app, &t, &results[1]["location"]).await;
    assert_eq!(results[2]["location"], results[1]["location"]);
    assert_eq!(results[2]["version"], group["meta"]["version"]);
    let mut members: Vec<&Value> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["value"])
        .collect();
    members.sort_by_key(|v| v.as_str().unwrap().to_owned());
    let mut expected = vec![&ada["id"], &bob["id"]];
    expected.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(members, expected);

    // DELETE answers 204 with the location it deleted.
    let deleted = bulk(
        &app,
        &t,
        json!([{ "method": "DELETE", "path": format!("/Users/{}", bob["id"].as_str().unwrap()) }]),
    )
    .await;
    assert_eq!(deleted[0]["status"], "204");
    assert_eq!(deleted[0]["location"], bob["meta"]["location"]);
    expect_error(
        scim(
            &app,
            Method::GET,
            &format!("/Users/{}", bob["id"].as_str().unwrap()),
            &t.admin,
            None,
        )
        .await,
        404,
        None,
    )
    .await;
}

#[tokio::test]
async fn each_operation_fails_alone_and_fail_on_errors_stops_the_rest() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let results = bulk_with(
        &app,
        &t.admin,
        json!({ "failOnErrors": 2, "Operations": [
            { "method": "POST", "path": "/Users", "bulkId": "a", "data": user("a@example.com") },
            { "method": "POST", "path": "/Users", "bulkId": "b", "data": user("nomail") },
            { "method": "POST", "path": "/Users", "bulkId": "c", "data": user("c@example.com") },
            { "method": "POST", "path": "/Users", "bulkId": "d", "data": user("A@example.com") },
            { "method": "POST", "path": "/Users", "bulkId": "e", "data": user("e@example.com") },
        ] }),
    )
    .await;
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "400", "201", "409"], "{results:#?}");
    let refused = &results[1]["response"];
    assert_eq!(
        refused["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(refused["status"], "400");
    assert_eq!(refused["scimType"], "invalidValue");
    assert_eq!(results[3]["response"]["scimType"], "uniqueness");
    assert!(results[1].get("location").is_none());
    let users = expect_scim(scim(&app, Method::GET, "/Users", &t.admin, None).await, 200).await;
    assert_eq!(users["totalResults"], 2, "a and c; e was never run");

    // Malformed operations are refused one by one; the request itself is valid.
    let results = bulk(
        &app,
        &t,
        json!([
            { "method": "GET", "path": "/Users" },
            { "method": "POST", "path": "/Users", "data": user("x@example.com") },
            { "method": "PUT", "path": "/Users" , "data": user("x@example.com") },
            { "method": "POST", "path": "/Widgets", "bulkId": "w", "data": {} },
            { "method": "DELETE", "path": "/Users/not-an-id" },
            { "method": "PATCH", "path": format!("/Users/{}", uuid::Uuid::nil()),
              "version": "W/\"1\"", "data": { "schemas": [PATCH], "Operations": [] } },
        ]),
    )
    .await;
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["400", "400", "400", "400", "404", "404"],
        "{results:#?}"
    );
}

#[tokio::test]
async fn unresolved_and_circular_bulk_ids_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let group = |name: &str, member: &str| json!({ "schemas": [GROUP], "displayName": name, "members": [{ "value": member }] });
    let results = bulk(
        &app,
        &t,
        json!([
            { "method": "POST", "path": "/Groups", "bulkId": "g0", "data": group("G0", "bulkId:nobody") },
            { "method": "POST", "path": "/Groups", "bulkId": "g1", "data": group("G1", "bulkId:g2") },
            { "method": "POST", "path": "/Groups", "bulkId": "g2", "data": group("G2", "bulkId:g1") },
            { "method": "POST", "path": "/Users", "bulkId": "self",
              "data": { "schemas": [USER], "userName": "bulkId:self" } },
        ]),
    )
    .await;
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["400", "409", "409", "409"], "{results:#?}");
    assert!(
        results[0]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("bulkId:nobody")
    );
    assert!(
        results[1]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("circular")
    );
    let groups = expect_scim(
        scim(&app, Method::GET, "/Groups", &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(groups["totalResults"], 0);
}

#[tokio::test]
async fn bulk_limits_are_declared_and_enforced() {
    // A server whose other bodies are small still takes bulk requests up to the
    // maxPayloadSize it declares.
    let app = TestApp::spawn_with(|s| s.http.max_body_bytes = 4096).await;
    let t = app.tenant().await;
    let config = expect_scim(
        scim(&app, Method::GET, "/ServiceProviderConfig", &t.admin, None).await,
        200,
    )
    .await;
    let max_payload = config["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    let max_operations = config["bulk"]["maxOperations"].as_u64().unwrap() as usize;

    let padding = "x".repeat(200);
    let operations: Vec<Value> = (0..300)
        .map(|i| {
            json!({ "method": "DELETE", "path": format!("/Users/{}", uuid::Uuid::nil()),
                    "bulkId": format!("{i}-{padding}") })
        })
        .collect();
    let results = bulk(&app, &t, json!(operations)).await;
    assert_eq!(results.len(), 300);

    let too_many: Vec<Value> = (0..=max_operations)
        .map(|_| json!({ "method": "DELETE", "path": format!("/Users/{}", uuid::Uuid::nil()) }))
        .collect();
    let refused = expect_error(
        scim(
            &app,
            Method::POST,
            "/Bulk",
            &t.admin,
            Some(json!({ "schemas": [BULK_REQUEST], "Operations": too_many })),
        )
        .await,
        413,
        None,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains(&max_operations.to_string())
    );

    let huge = json!({ "schemas": [BULK_REQUEST], "Operations": [
        { "method": "POST", "path": "/Users", "bulkId": "big",
          "data": { "schemas": [USER], "userName": "x".repeat(max_payload) } }
    ] });
    let refused = expect_error(
        scim(&app, Method::POST, "/Bulk", &t.admin, Some(huge)).await,
        413,
        None,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains(&max_payload.to_string())
    );

    expect_error(
        scim(
            &app,
            Method::POST,
            "/Bulk",
            &t.admin,
            Some(json!({ "Operations": [] })),
        )
        .await,
        400,
        Some("invalidSyntax"),
    )
    .await;
}

#[tokio::test]
async fn bulk_operations_keep_to_the_callers_tenant_and_role() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let theirs = bulk(
        &app,
        &a,
        json!([{ "method": "POST", "path": "/Users", "bulkId": "u", "data": user("u@example.com") }]),
    )
    .await;
    let location = theirs[0]["location"].as_str().unwrap();
    let id = location.rsplit('/').next().unwrap();
    let results = bulk(
        &app,
        &b,
        json!([
            { "method": "DELETE", "path": format!("/Users/{id}") },
            { "method": "POST", "path": "/Groups", "bulkId": "g",
              "data": { "schemas": [GROUP], "displayName": "G", "members": [{ "value": id }] } },
        ]),
    )
    .await;
    assert_eq!(results[0]["status"], "404");
    assert_eq!(results[1]["status"], "400");
    let reader = app.api_key(&a.id, "reader").await;
    let results = bulk_with(
        &app,
        &reader,
        json!({ "Operations": [{ "method": "DELETE", "path": format!("/Users/{id}") }] }),
    )
    .await;
    assert_eq!(results[0]["status"], "403");
    let still = expect_scim(
        scim(&app, Method::GET, &format!("/Users/{id}"), &a.admin, None).await,
        200,
    )
    .await;
    assert_eq!(still["userName"], "u@example.com");
}
