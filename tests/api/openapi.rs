//! The OpenAPI document at /openapi.json: every operation named once, every status it
//! can answer listed with the problem document, the domain's rules in its schemas,
//! and the statuses the server really answers among those listed.

use std::collections::{BTreeSet, HashSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request sent");
    expect_json(response, 200).await
}

/// Every operation as (path, method, operation).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut operations = vec![];
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.push((path.clone(), method.to_owned(), operation.clone()));
            }
        }
    }
    operations
}

fn statuses(operation: &Value) -> BTreeSet<String> {
    operation["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .cloned()
        .collect()
}

/// Whether the operation takes a credential (its `security` is not `[{}]`).
fn secured(operation: &Value) -> bool {
    operation
        .get("security")
        .and_then(Value::as_array)
        .is_none_or(|requirements| {
            !requirements
                .iter()
                .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
        })
}

#[tokio::test]
async fn the_openapi_document_is_openapi_3_1_with_unique_operation_ids() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let mut seen = HashSet::new();
    for (path, method, operation) in operations(&document) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(seen.insert(id.to_owned()), "operationId {id} is used twice");
    }
    assert!(seen.len() >= 40, "only {} operations", seen.len());
}

#[tokio::test]
async fn every_native_operation_lists_the_statuses_its_kind_can_answer_as_problems() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    for (path, method, operation) in operations(&document) {
        if !path.starts_with("/v1/") {
            continue;
        }
        let listed = statuses(&operation);
        let mut expected = vec!["400", "408", "414", "431", "503"];
        if secured(&operation) {
            expected.push("401");
            if method != "get" {
                expected.push("403");
            }
        }
        if path.contains('{') {
            expected.push("404");
        }
        if operation.get("requestBody").is_some() {
            expected.extend(["400", "413", "415"]);
        }
        let has_query = operation["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
        if has_query {
            expected.push("400");
        }
        for status in expected {
            assert!(
                listed.contains(status),
                "{method} {path} does not list {status}: {listed:?}"
            );
        }
        for status in listed.iter().filter(|s| s.as_str() >= "400") {
            let content = &operation["responses"][status]["content"];
            assert_eq!(
                content["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status} is not a problem document"
            );
        }
    }
}

#[tokio::test]
async fn the_oauth_token_and_revocation_endpoints_are_documented() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    for (path, id) in [
        ("/oauth2/token", "issueToken"),
        ("/sso/oauth2/token", "issueTokenAtDynatracePath"),
        ("/oauth2/revoke", "revokeToken"),
    ] {
        let operation = &document["paths"][path]["post"];
        assert_eq!(operation["operationId"], id, "{path}");
        assert!(
            operation["requestBody"]["content"]
                .get("application/x-www-form-urlencoded")
                .is_some(),
            "{path} takes a form"
        );
        let listed = statuses(operation);
        for status in [
            "200", "400", "401", "408", "413", "414", "415", "431", "503",
        ] {
            assert!(listed.contains(status), "{path} does not list {status}");
        }
    }
    let grant = &document["components"]["schemas"]["TokenRequest"]["properties"]["grant_type"];
    assert_eq!(grant["enum"], json!(["client_credentials"]));
}

#[tokio::test]
async fn the_request_schemas_carry_the_domains_rules() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let schemas = &document["components"]["schemas"];
    let email = &schemas["CreateUserBody"]["properties"]["email"];
    assert_eq!(email["format"], "email");
    assert_eq!(email["maxLength"], 254);
    assert!(email["pattern"].is_string());
    let name = &schemas["TenantNameBody"]["properties"]["name"];
    assert_eq!(
        (&name["minLength"], &name["maxLength"]),
        (&json!(1), &json!(200))
    );
    assert!(name["pattern"].is_string());
    let password = &schemas["PasswordBody"]["properties"]["password"];
    assert_eq!(
        (&password["minLength"], &password["maxLength"]),
        (&json!(8), &json!(256))
    );
    assert_eq!(schemas["Role"]["enum"], json!(["admin", "member"]));
    // A required field of a partial update may be left out but not be null.
    let first_name = &schemas["UpdateUserBody"]["properties"]["firstName"];
    assert_eq!(first_name["type"], "string");
    let audit = &document["paths"]["/v1/tenants/{tenantId}/audit-events"]["get"];
    let action = audit["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "action"))
        .expect("action parameter");
    assert!(
        action["schema"]["enum"]
            .as_array()
            .is_some_and(|values| values.contains(&json!("user.update")))
    );
}

/// The path with each `{param}` replaced: the tenant's id, or an id that names nothing.
fn concrete(path: &str, tenant: &str) -> String {
    path.replace("{tenantId}", tenant)
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "0190a5b4-0000-7000-8000-000000000000"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn what_the_server_answers_without_a_credential_or_with_a_reader_key_is_documented() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let reader = app.api_key(&tenant.id, "reader").await;
    let document = document(&app).await;
    let mut tried = 0;
    for (path, method, operation) in operations(&document) {
        if !path.starts_with("/v1/") {
            continue;
        }
        let listed = statuses(&operation);
        let url = concrete(&path, &tenant.id);
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let body = operation.get("requestBody").map(|_| json!({}));
        for token in [None, Some(reader.as_str())] {
            let mut request = app.client.request(method.clone(), app.url(&url));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.expect("request sent");
            let status = response.status().as_u16().to_string();
            assert!(
                listed.contains(&status),
                "{method} {url} answered {status}, which its operation does not list: {listed:?}"
            );
            if secured(&operation) && token.is_none() {
                assert_eq!(status, "401", "{method} {url} without a credential");
            }
            tried += 1;
        }
    }
    assert!(tried >= 70, "only {tried} requests");
}

// What schemathesis found, kept as tests so that `cargo test` on both backends
// catches them again.

#[tokio::test]
async fn a_sign_in_with_a_nul_byte_in_the_email_is_401_not_500() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let response = app
        .client
        .post(app.url(&format!("/v1/tenants/{}/auth/login", tenant.id)))
        .json(&json!({"email": "a\u{0}b@example.com", "password": "whatever-it-is"}))
        .send()
        .await
        .expect("request sent");
    crate::helpers::expect_problem(response, 401).await;
}

#[tokio::test]
async fn an_audit_filter_with_a_control_character_is_400_naming_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for parameter in ["actor", "target"] {
        let response = app
            .get(
                &format!("/v1/tenants/{}/audit-events?{parameter}=a%00b", tenant.id),
                &tenant.admin,
            )
            .await;
        let problem = crate::helpers::expect_problem(response, 400).await;
        assert_eq!(problem["errors"][0]["parameter"], parameter);
    }
}

#[tokio::test]
async fn an_imported_hash_with_a_multi_byte_character_is_400_not_500() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    let hash = format!("$2a$1\u{e9}{}", "a".repeat(53));
    let response = app
        .post(
            &format!("/v1/tenants/{}/users", tenant.id),
            &tenant.admin,
            &json!({"email": "a@example.com", "firstName": "A", "lastName": "B", "passwordHash": hash}),
        )
        .await;
    let problem = crate::helpers::expect_problem(response, 400).await;
    assert_eq!(problem["errors"][0]["field"], "passwordHash");
}

#[tokio::test]
async fn an_email_with_a_leading_trailing_or_doubled_dot_is_refused() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant().await;
    for email in [".a@example.com", "a.@example.com", "a..b@example.com"] {
        let response = app
            .post(
                &format!("/v1/tenants/{}/users", tenant.id),
                &tenant.admin,
                &json!({"email": email, "firstName": "A", "lastName": "B"}),
            )
            .await;
        let problem = crate::helpers::expect_problem(response, 400).await;
        assert_eq!(problem["errors"][0]["field"], "email", "{email}");
    }
}

/// Every `$ref` string anywhere in `value`.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => found.push(target.clone()),
                    _ => refs(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_user_schemas_carry_the_profile_and_every_reference_resolves() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let schemas = &document["components"]["schemas"];
    let mut found = Vec::new();
    refs(&document, &mut found);
    for target in &found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} is not a component schema"));
        assert!(schemas.get(name).is_some(), "{target} resolves to nothing");
    }
    for (schema, field) in [
        ("UserBody", "profile"),
        ("CreateUserBody", "profile"),
        ("UpdateUserBody", "profile"),
        ("ProfileBody", "phoneNumbers"),
        ("ProfileBody", "manager"),
        ("ProfileUpdate", "managerId"),
        ("ValueBody", "primary"),
        ("AddressBody", "streetAddress"),
    ] {
        assert!(
            schemas[schema]["properties"].get(field).is_some(),
            "{schema}.{field} is not documented"
        );
    }
}
