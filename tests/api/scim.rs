use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{OPERATOR_TOKEN, TestApp, TestTenant, expect_json};

pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM request with a JSON body sent as application/scim+json.
pub(crate) async fn scim(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.request(method, &format!("/scim/v2{path}"), token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    request.send().await.expect("request sent")
}

/// Asserts a SCIM reply with this status and answers its body.
pub(crate) async fn expect_scim(response: reqwest::Response, status: u16) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = expect_json(response, status).await;
    assert_eq!(content_type, "application/scim+json", "{body}");
    body
}

/// Asserts a SCIM error with this status (and scimType, when given).
pub(crate) async fn expect_error(
    response: reqwest::Response,
    status: u16,
    scim_type: Option<&str>,
) -> Value {
    let body = expect_scim(response, status).await;
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], status.to_string(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    if let Some(scim_type) = scim_type {
        assert_eq!(body["scimType"], scim_type, "{body}");
    }
    body
}

async fn create_user(app: &TestApp, t: &TestTenant, user_name: &str) -> Value {
    expect_scim(
        scim(
            app,
            Method::POST,
            "/Users",
            &t.admin,
            Some(json!({
                "schemas": [USER],
                "userName": user_name,
                "name": { "givenName": "Ada", "familyName": "Lovelace" },
                "emails": [{ "value": user_name, "type": "work", "primary": true }],
                "active": true,
            })),
        )
        .await,
        201,
    )
    .await
}

/// Creates a group over SCIM with the token `token` and answers it.
pub(crate) async fn create_group(app: &TestApp, token: &str, name: &str) -> Value {
    expect_scim(
        scim(
            app,
            Method::POST,
            "/Groups",
            token,
            Some(json!({ "schemas": [GROUP], "displayName": name })),
        )
        .await,
        201,
    )
    .await
}

async fn list(app: &TestApp, t: &TestTenant, query: &str) -> Value {
    let path = format!("/Users?{query}");
    expect_scim(scim(app, Method::GET, &path, &t.admin, None).await, 200).await
}

fn filter(text: &str) -> String {
    format!("filter={}", urlencode(text))
}

/// Percent-encodes a query parameter's value.
pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn discovery_declares_what_is_implemented() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let config = expect_scim(
        scim(&app, Method::GET, "/ServiceProviderConfig", &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], true);
    assert_eq!(config["bulk"]["maxOperations"], 1000);
    assert_eq!(config["bulk"]["maxPayloadSize"], 1024 * 1024);
    assert_eq!(config["filter"]["supported"], true);
    assert!(config["filter"]["maxResults"].as_u64().unwrap() > 0);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["changePassword"]["supported"], false);
    assert_eq!(config["sort"]["supported"], true);
    assert_eq!(
        config["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );

    let types = expect_scim(
        scim(&app, Method::GET, "/ResourceTypes", &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(types["totalResults"], 2);
    let user_type = expect_scim(
        scim(&app, Method::GET, "/ResourceTypes/User", &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(user_type["endpoint"], "/Users");
    assert_eq!(user_type["schemaExtensions"][0]["schema"], ENTERPRISE);
    let group_type = expect_scim(
        scim(&app, Method::GET, "/ResourceTypes/Group", &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(group_type["schema"], GROUP);

    let schemas = expect_scim(
        scim(&app, Method::GET, "/Schemas", &t.admin, None).await,
        200,
    )
    .await;
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [USER, ENTERPRISE, GROUP]);
    for id in [USER, ENTERPRISE, GROUP] {
        let schema = expect_scim(
            scim(&app, Method::GET, &format!("/Schemas/{id}"), &t.admin, None).await,
            200,
        )
        .await;
        assert_eq!(schema["id"], id);
    }
    expect_error(
        scim(&app, Method::GET, "/Schemas/urn:nope", &t.admin, None).await,
        404,
        None,
    )
    .await;
}

#[tokio::test]
async fn users_are_created_read_replaced_and_deleted() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let response = scim(
        &app,
        Method::POST,
        "/Users",
        &t.admin,
        Some(json!({
            "schemas": [USER, ENTERPRISE],
            "externalId": "okta-00u1",
            "userName": "Grace@Example.com",
            "name": { "givenName": "Grace", "familyName": "Hopper" },
            "phoneNumbers": [{ "value": "+1 555 0100", "type": "work" }],
            "addresses": [{ "country": "us", "type": "work" }],
            "roles": [{ "value": "admin" }],
            "active": true,
            "password": "correct horse battery",
            ENTERPRISE: { "organization": "Navy" },
        })),
    )
    .await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let user = expect_scim(response, 201).await;
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["userName"], "Grace@Example.com");
    assert_eq!(user["externalId"], "okta-00u1");
    assert_eq!(user["emails"][0]["value"], "Grace@Example.com");
    assert_eq!(user["emails"][0]["type"], "work");
    // Without emails, the userName is the address, kept as the primary work email.
    assert_eq!(user["emails"][0]["primary"], true);
    // displayName is what the provider writes, not made from the names.
    assert!(user.get("displayName").is_none(), "{user}");
    assert_eq!(user["phoneNumbers"][0]["value"], "+1 555 0100");
    assert_eq!(user["addresses"][0]["country"], "us");
    assert_eq!(user["roles"][0]["value"], "admin");
    assert_eq!(user[ENTERPRISE]["organization"], "Navy");
    assert_eq!(user["groups"], json!([]));
    assert!(user.get("password").is_none());
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(user["meta"]["version"], etag);
    assert_eq!(etag, "W/\"1\"");
    assert!(
        location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{location}"
    );
    assert_eq!(user["meta"]["location"], location);
    assert!(user["meta"]["created"].as_str().unwrap().ends_with('Z'));

    let read = expect_scim(
        scim(&app, Method::GET, &format!("/Users/{id}"), &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(read, user);

    // A duplicate userName in another letter case clashes.
    expect_error(
        scim(
            &app,
            Method::POST,
            "/Users",
            &t.admin,
            Some(json!({ "schemas": [USER], "userName": "grace@example.COM" })),
        )
        .await,
        409,
        Some("uniqueness"),
    )
    .await;

    let replaced = expect_scim(
        scim(
            &app,
            Method::PUT,
            &format!("/Users/{id}"),
            &t.admin,
            Some(json!({
                "schemas": [USER],
                "userName": "grace.hopper@example.com",
                "name": { "givenName": "Grace", "familyName": "Murray Hopper" },
                "active": false,
            })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(replaced["userName"], "grace.hopper@example.com");
    assert_eq!(replaced["active"], false);
    assert_eq!(replaced["meta"]["version"], "W/\"2\"");
    assert!(replaced.get("phoneNumbers").is_none(), "{replaced}");
    assert!(replaced.get(ENTERPRISE).is_none(), "{replaced}");
    assert!(replaced.get("externalId").is_none(), "{replaced}");

    let response = scim(
        &app,
        Method::DELETE,
        &format!("/Users/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(
        scim(&app, Method::GET, &format!("/Users/{id}"), &t.admin, None).await,
        404,
        None,
    )
    .await;
}

#[tokio::test]
async fn etags_answer_not_modified_and_refuse_stale_writes() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = create_user(&app, &t, "etag@example.com").await;
    let path = format!("/scim/v2/Users/{}", user["id"].as_str().unwrap());
    let response = app
        .request(Method::GET, &path, &t.admin)
        .header("if-none-match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"], "W/\"1\"");
    let response = app
        .request(Method::GET, &path, &t.admin)
        .header("if-none-match", "W/\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let body = json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "active", "value": false }] });
    let stale = app
        .request(Method::PATCH, &path, &t.admin)
        .header("if-match", "W/\"9\"")
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    expect_error(stale, 412, None).await;
    let current = app
        .request(Method::PATCH, &path, &t.admin)
        .header("if-match", "W/\"1\"")
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let patched = expect_scim(current, 200).await;
    assert_eq!(patched["active"], false);
    let stale_delete = app
        .request(Method::DELETE, &path, &t.admin)
        .header("if-match", "W/\"1\"")
        .send()
        .await
        .unwrap();
    expect_error(stale_delete, 412, None).await;
}

#[tokio::test]
async fn filters_select_users_in_sql() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let ada = create_user(&app, &t, "ada@example.com").await;
    create_user(&app, &t, "bob@example.org").await;
    let carol = create_user(&app, &t, "Carol@Example.com").await;
    let carol_id = carol["id"].as_str().unwrap();
    expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Users/{carol_id}"),
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
                { "op": "replace", "value": { "active": false, "externalId": "ext-C" } }
            ] })),
        )
        .await,
        200,
    )
    .await;

    let names = |listing: &Value| -> Vec<String> {
        let mut names: Vec<String> = listing["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_lowercase())
            .collect();
        names.sort();
        names
    };
    for (text, expected) in [
        (r#"userName eq "ADA@example.com""#, vec!["ada@example.com"]),
        (r#"userName sw "B""#, vec!["bob@example.org"]),
        (
            r#"userName ew ".COM""#,
            vec!["ada@example.com", "carol@example.com"],
        ),
        (r#"userName co "example.o""#, vec!["bob@example.org"]),
        ("active eq false", vec!["carol@example.com"]),
        (
            "not (active eq false)",
            vec!["ada@example.com", "bob@example.org"],
        ),
        (r#"externalId eq "ext-C""#, vec!["carol@example.com"]),
        (r#"externalId eq "ext-c""#, vec![]),
        ("externalId pr", vec!["carol@example.com"]),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            vec!["ada@example.com", "carol@example.com"],
        ),
        (
            r#"(userName sw "a" or userName sw "c") and active eq true"#,
            vec!["ada@example.com"],
        ),
        (
            r#"name.givenName eq "ada" and name.familyName sw "LOVE""#,
            vec!["ada@example.com", "bob@example.org", "carol@example.com"],
        ),
        (
            r#"meta.created gt "2000-01-01T00:00:00Z""#,
            vec!["ada@example.com", "bob@example.org", "carol@example.com"],
        ),
        (r#"meta.created lt "2000-01-01T00:00:00Z""#, vec![]),
        (
            &format!("id eq \"{}\"", ada["id"].as_str().unwrap()),
            vec!["ada@example.com"],
        ),
        (r#"id eq "not-an-id""#, vec![]),
        (r#"emails[type eq "home"]"#, vec![]),
    ] {
        let listing = list(&app, &t, &filter(text)).await;
        assert_eq!(names(&listing), expected, "{text}");
        assert_eq!(listing["totalResults"], expected.len(), "{text}");
    }

    for bad in [
        r#"favouriteColour eq "x""#,
        r#"userName eq"#,
        r#"userName eq "x" and"#,
        r#"(userName pr"#,
        r#"userName zz "x""#,
    ] {
        let path = format!("/Users?{}", filter(bad));
        expect_error(
            scim(&app, Method::GET, &path, &t.admin, None).await,
            400,
            Some("invalidFilter"),
        )
        .await;
    }
}

#[tokio::test]
async fn lists_page_by_start_index_and_count() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for i in 0..5 {
        create_user(&app, &t, &format!("user{i}@example.com")).await;
    }
    let only_total = list(&app, &t, "count=0").await;
    assert_eq!(only_total["totalResults"], 5);
    assert_eq!(only_total["itemsPerPage"], 0);
    assert_eq!(only_total["Resources"], json!([]));
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let page = list(&app, &t, &format!("startIndex={start}&count=2")).await;
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["startIndex"], start);
        for user in page["Resources"].as_array().unwrap() {
            seen.push(user["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen.len(), 5);
    seen.dedup();
    assert_eq!(seen.len(), 5);
    let beyond = list(&app, &t, "startIndex=9").await;
    assert_eq!(beyond["totalResults"], 5);
    assert_eq!(beyond["Resources"], json!([]));
    let clamped = list(&app, &t, "startIndex=0&count=-3").await;
    assert_eq!(clamped["startIndex"], 1);
    assert_eq!(clamped["itemsPerPage"], 0);
}

#[tokio::test]
async fn every_failure_is_a_scim_error() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    expect_error(
        scim(&app, Method::GET, "/Users", "wrong", None).await,
        401,
        None,
    )
    .await;
    let anonymous = app
        .client
        .get(app.url("/scim/v2/Users"))
        .send()
        .await
        .unwrap();
    assert!(anonymous.headers().contains_key("www-authenticate"));
    expect_error(anonymous, 401, None).await;
    expect_error(
        scim(&app, Method::GET, "/Users", OPERATOR_TOKEN, None).await,
        403,
        None,
    )
    .await;
    expect_error(
        scim(&app, Method::GET, "/Nothing", &t.admin, None).await,
        404,
        None,
    )
    .await;
    expect_error(
        scim(&app, Method::DELETE, "/Users", &t.admin, None).await,
        405,
        None,
    )
    .await;
    expect_error(
        scim(&app, Method::GET, "/Users/not-a-uuid", &t.admin, None).await,
        404,
        None,
    )
    .await;
    let malformed = app
        .request(Method::POST, "/scim/v2/Users", &t.admin)
        .header("content-type", "application/scim+json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    expect_error(malformed, 400, Some("invalidSyntax")).await;
    expect_error(
        scim(
            &app,
            Method::POST,
            "/Users",
            &t.admin,
            Some(json!({ "schemas": [USER] })),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    expect_error(
        scim(
            &app,
            Method::POST,
            "/Users",
            &t.admin,
            Some(json!({ "schemas": [USER], "userName": "jdoe" })),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    let reader = app.api_key(&t.id, "reader").await;
    expect_error(
        scim(
            &app,
            Method::POST,
            "/Users",
            &reader,
            Some(json!({ "schemas": [USER], "userName": "r@example.com" })),
        )
        .await,
        403,
        None,
    )
    .await;
    // application/json is accepted as well as application/scim+json.
    expect_scim(
        app.post(
            "/scim/v2/Users",
            &t.admin,
            &json!({ "schemas": [USER], "userName": "plain@example.com" }),
        )
        .await,
        201,
    )
    .await;
}

#[tokio::test]
async fn another_tenants_resources_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let user = create_user(&app, &a, "mine@example.com").await;
    let group = create_group(&app, &a.admin, "Mine").await;
    let user_path = format!("/Users/{}", user["id"].as_str().unwrap());
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    for path in [&user_path, &group_path] {
        expect_error(
            scim(&app, Method::GET, path, &b.admin, None).await,
            404,
            None,
        )
        .await;
        expect_error(
            scim(&app, Method::DELETE, path, &b.admin, None).await,
            404,
            None,
        )
        .await;
    }
    let listing = list(&app, &b, "").await;
    assert_eq!(listing["totalResults"], 0);
    // B cannot make A's user a member of its group.
    let theirs = create_group(&app, &b.admin, "Theirs").await;
    expect_error(
        scim(
            &app,
            Method::PATCH,
            &format!("/Groups/{}", theirs["id"].as_str().unwrap()),
            &b.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
                { "op": "add", "path": "members", "value": [{ "value": user["id"] }] }
            ] })),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
}

#[tokio::test]
async fn groups_are_provisioned_with_their_members() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let ada = create_user(&app, &t, "ada@example.com").await;
    let bob = create_user(&app, &t, "bob@example.com").await;
    let response = scim(
        &app,
        Method::POST,
        "/Groups",
        &t.admin,
        Some(json!({
            "schemas": [GROUP],
            "displayName": "Engineers",
            "externalId": "grp-1",
            "members": [{ "value": ada["id"] }],
        })),
    )
    .await;
    let group = expect_scim(response, 201).await;
    let id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(group["externalId"], "grp-1");
    assert_eq!(group["members"][0]["value"], ada["id"]);
    assert_eq!(
        group["members"][0]["$ref"],
        format!(
            "{}/Users/{}",
            app.url("/scim/v2"),
            ada["id"].as_str().unwrap()
        )
    );
    assert_eq!(group["meta"]["resourceType"], "Group");

    // The native face shows the group owned by SCIM.
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/groups/{id}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["owner"], "SCIM", "{native}");

    // The user shows its group.
    let ada_now = expect_scim(
        scim(
            &app,
            Method::GET,
            &format!("/Users/{}", ada["id"].as_str().unwrap()),
            &t.admin,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ada_now["groups"][0]["value"], id.as_str());
    assert_eq!(ada_now["groups"][0]["display"], "Engineers");

    let found = expect_scim(
        scim(
            &app,
            Method::GET,
            &format!("/Groups?{}", filter(r#"displayName eq "engineers""#)),
            &t.admin,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    let by_member = expect_scim(
        scim(
            &app,
            Method::GET,
            &format!(
                "/Groups?{}",
                filter(&format!(
                    "members[value eq \"{}\"]",
                    bob["id"].as_str().unwrap()
                ))
            ),
            &t.admin,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(by_member["totalResults"], 0);

    let replaced = expect_scim(
        scim(
            &app,
            Method::PUT,
            &format!("/Groups/{id}"),
            &t.admin,
            Some(json!({
                "schemas": [GROUP],
                "displayName": "Engineering",
                "members": [{ "value": bob["id"] }],
            })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(replaced["displayName"], "Engineering");
    assert_eq!(replaced["members"].as_array().unwrap().len(), 1);
    assert_eq!(replaced["members"][0]["value"], bob["id"]);
    assert!(replaced.get("externalId").is_none());

    // A patch naming an unknown user changes nothing.
    expect_error(
        scim(
            &app,
            Method::PATCH,
            &format!("/Groups/{id}"),
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
                { "op": "replace", "path": "displayName", "value": "Renamed" },
                { "op": "add", "path": "members", "value": [
                    { "value": ada["id"] },
                    { "value": "0190f1b4-0000-7000-8000-000000000000" }
                ] }
            ] })),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    let unchanged = expect_scim(
        scim(&app, Method::GET, &format!("/Groups/{id}"), &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(unchanged["displayName"], "Engineering");
    assert_eq!(unchanged["members"].as_array().unwrap().len(), 1);

    let response = scim(
        &app,
        Method::DELETE,
        &format!("/Groups/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(
        scim(&app, Method::GET, &format!("/Groups/{id}"), &t.admin, None).await,
        404,
        None,
    )
    .await;
}

#[tokio::test]
async fn a_group_patch_adds_and_removes_many_members_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let ids: Vec<String> = crate::helpers::create_users(&app, &t, "bulk", 600)
        .await
        .into_iter()
        .collect();
    let group = create_group(&app, &t.admin, "Everyone").await;
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let members: Vec<Value> = ids.iter().map(|id| json!({ "value": id })).collect();
    let added = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &path,
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "Add", "path": "members", "value": members }
        ] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(added["members"].as_array().unwrap().len(), 600);
    let removed: Vec<Value> = ids[..520].iter().map(|id| json!({ "value": id })).collect();
    let after = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &path,
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "Remove", "path": "members", "value": removed },
            { "op": "remove", "path": format!("members[value eq \"{}\"]", ids[520]) }
        ] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(after["members"].as_array().unwrap().len(), 79);
}

#[tokio::test]
async fn user_patches_accept_what_identity_providers_send() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = create_user(&app, &t, "patch@example.com").await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let patched = expect_scim(
        scim(&app, Method::PATCH, &path, &t.admin, Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "Replace", "path": "active", "value": "False" },
            { "op": "Add", "path": "name.givenName", "value": "Augusta" },
            { "op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+44 20 7946 0000" },
            { "op": "add", "path": format!("{ENTERPRISE}:organization"), "value": "Analytical Engines" },
            { "op": "replace", "value": { "externalId": "entra-1", "addresses": [{ "type": "work", "country": "GB" }] } },
        ] }))).await,
        200,
    )
    .await;
    assert_eq!(patched["active"], false);
    assert_eq!(patched["name"]["givenName"], "Augusta");
    assert_eq!(patched["phoneNumbers"][0]["value"], "+44 20 7946 0000");
    assert_eq!(patched[ENTERPRISE]["organization"], "Analytical Engines");
    assert_eq!(patched["externalId"], "entra-1");
    assert_eq!(patched["addresses"][0]["country"], "GB");

    let changed_email = expect_scim(
        scim(&app, Method::PATCH, &path, &t.admin, Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "augusta@example.com" },
            { "op": "remove", "path": "phoneNumbers" },
            { "op": "remove", "path": format!("{ENTERPRISE}:organization") },
        ] }))).await,
        200,
    )
    .await;
    assert_eq!(changed_email["userName"], "augusta@example.com");
    assert!(changed_email.get("phoneNumbers").is_none());
    assert!(changed_email.get(ENTERPRISE).is_none());

    expect_error(
        scim(
            &app,
            Method::PATCH,
            &path,
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "replace", "path": "active", "value": "perhaps" }
        ] })),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    expect_error(
        scim(
            &app,
            Method::PATCH,
            &path,
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
async fn the_okta_and_entra_provisioning_sequence_runs_end_to_end() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    // Look the user up first: not there.
    let lookup = list(&app, &t, &filter(r#"userName eq "idp.user@example.com""#)).await;
    assert_eq!(lookup["totalResults"], 0);
    assert_eq!(lookup["Resources"], json!([]));
    let user = create_user(&app, &t, "idp.user@example.com").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let lookup = list(&app, &t, &filter(r#"userName eq "IDP.user@example.com""#)).await;
    assert_eq!(lookup["totalResults"], 1);
    assert_eq!(lookup["Resources"][0]["id"], id.as_str());

    // Deactivate.
    let inactive = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Users/{id}"),
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "replace", "value": { "active": false } }
        ] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(inactive["active"], false);
    // Replace attributes.
    let replaced = expect_scim(
        scim(
            &app,
            Method::PUT,
            &format!("/Users/{id}"),
            &t.admin,
            Some(json!({
                "schemas": [USER],
                "userName": "idp.user@example.com",
                "name": { "givenName": "Idp", "familyName": "User" },
                "active": true,
            })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(replaced["active"], true);
    assert_eq!(replaced["name"]["familyName"], "User");

    // Group push: create, add, remove.
    let group = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Groups",
            &t.admin,
            Some(json!({ "schemas": [GROUP], "displayName": "Pushed", "members": [] })),
        )
        .await,
        201,
    )
    .await;
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let with_member = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &group_path,
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "add", "path": "members", "value": [{ "value": id }] }
        ] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(with_member["members"][0]["value"], id.as_str());
    let without = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &group_path,
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "remove", "path": format!("members[value eq \"{id}\"]") }
        ] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(without["members"], json!([]));

    // Deprovision.
    let response = scim(
        &app,
        Method::DELETE,
        &format!("/Users/{id}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let lookup = list(&app, &t, &filter(r#"userName eq "idp.user@example.com""#)).await;
    assert_eq!(lookup["totalResults"], 0);
}

#[tokio::test]
async fn scim_and_native_faces_show_one_user() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let created = create_user(&app, &t, "both@example.com").await;
    let id = created["id"].as_str().unwrap();
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/users/{id}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["email"], "both@example.com");
    assert_eq!(native["firstName"], "Ada");
    assert_eq!(native["lastName"], "Lovelace");
    assert_eq!(native["status"], "active");

    expect_json(
        app.patch(
            &format!("/v1/tenants/{}/users/{id}", t.id),
            &t.admin,
            &json!({ "firstName": "Native", "status": "disabled" }),
        )
        .await,
        200,
    )
    .await;
    let seen = expect_scim(
        scim(&app, Method::GET, &format!("/Users/{id}"), &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(seen["name"]["givenName"], "Native");
    assert_eq!(seen["active"], false);

    // A user made natively is found by SCIM's filter.
    let native_user = app.user(&t, "native@example.com").await;
    let found = list(&app, &t, &filter(r#"userName eq "NATIVE@example.com""#)).await;
    assert_eq!(found["Resources"][0]["id"], native_user["id"]);
}

#[tokio::test]
async fn searches_post_the_list_parameters() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for name in ["s1@example.com", "s2@example.com", "other@example.org"] {
        create_user(&app, &t, name).await;
    }
    let search = |body: Value| scim(&app, Method::POST, "/Users/.search", &t.admin, Some(body));
    let found = expect_scim(
        search(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"s\"",
            "startIndex": 2,
            "count": 5,
        }))
        .await,
        200,
    )
    .await;
    assert_eq!(found["totalResults"], 2);
    assert_eq!(found["startIndex"], 2);
    assert_eq!(found["itemsPerPage"], 1);
    expect_error(
        search(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "nope eq \"x\"",
        }))
        .await,
        400,
        Some("invalidFilter"),
    )
    .await;
    expect_error(
        search(json!({ "filter": "userName pr" })).await,
        400,
        Some("invalidSyntax"),
    )
    .await;
    let groups = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Groups/.search",
            &t.admin,
            Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 0 })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(groups["totalResults"], 0);
}

#[tokio::test]
async fn attributes_and_excluded_attributes_shape_replies() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = create_user(&app, &t, "shape@example.com").await;
    let id = user["id"].as_str().unwrap();
    let only = expect_scim(
        scim(
            &app,
            Method::GET,
            &format!("/Users/{id}?attributes=userName,name.givenName"),
            &t.admin,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        only,
        json!({ "schemas": [USER], "id": id, "userName": "shape@example.com", "name": { "givenName": "Ada" } })
    );
    let listed = list(&app, &t, "excludedAttributes=groups,meta,emails").await;
    let first = &listed["Resources"][0];
    assert_eq!(first["id"], id);
    assert!(
        first.get("groups").is_none()
            && first.get("meta").is_none()
            && first.get("emails").is_none()
    );
    assert_eq!(first["userName"], "shape@example.com");
    let searched = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Users/.search",
            &t.admin,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "attributes": ["userName"],
            })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        searched["Resources"][0],
        json!({ "schemas": [USER], "id": id, "userName": "shape@example.com" })
    );
}

#[tokio::test]
async fn a_patch_that_does_not_name_active_leaves_a_pending_user_pending() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let native = expect_json(
        app.post(
            &format!("/v1/tenants/{}/users", t.id),
            &t.admin,
            &json!({ "email": "invited@example.com", "firstName": "In", "lastName": "Vited", "status": "pending" }),
        )
        .await,
        201,
    )
    .await;
    let id = native["id"].as_str().unwrap();
    let patched = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Users/{id}"),
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "replace", "path": "name.familyName", "value": "Vitation" }
        ] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["active"], false);
    let after = expect_json(
        app.get(&format!("/v1/tenants/{}/users/{id}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(after["status"], "pending");
    assert_eq!(after["lastName"], "Vitation");
}

#[tokio::test]
async fn lists_sort_by_an_attribute_in_either_order() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for name in ["carol@example.com", "Alice@example.com", "bob@example.com"] {
        create_user(&app, &t, name).await;
    }
    let names = |listing: &Value| -> Vec<String> {
        listing["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let ascending = list(&app, &t, "sortBy=userName").await;
    assert_eq!(
        names(&ascending),
        ["Alice@example.com", "bob@example.com", "carol@example.com"]
    );
    let descending = list(&app, &t, "sortBy=userName&sortOrder=Descending&count=2").await;
    assert_eq!(names(&descending), ["carol@example.com", "bob@example.com"]);
    let second_page = list(
        &app,
        &t,
        "sortBy=userName&sortOrder=descending&startIndex=3",
    )
    .await;
    assert_eq!(names(&second_page), ["Alice@example.com"]);
    for bad in [
        "sortBy=favouriteColour",
        "sortBy=userName&sortOrder=sideways",
    ] {
        expect_error(
            scim(&app, Method::GET, &format!("/Users?{bad}"), &t.admin, None).await,
            400,
            Some("invalidValue"),
        )
        .await;
    }
    let groups = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Groups?sortBy=displayName&sortOrder=descending",
            &t.admin,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(groups["totalResults"], 0);
}

async fn post_user(app: &TestApp, t: &TestTenant, body: Value) -> reqwest::Response {
    scim(app, Method::POST, "/Users", &t.admin, Some(body)).await
}

#[tokio::test]
async fn a_user_name_other_than_the_email_is_kept_beside_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let jdoe = expect_scim(
        post_user(
            &app,
            &t,
            json!({ "schemas": [USER], "userName": "jdoe",
                    "emails": [{ "value": "home@example.org", "type": "home" },
                               { "value": "john.doe@example.com", "type": "work", "primary": true }] }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(jdoe["userName"], "jdoe");
    assert_eq!(
        jdoe["emails"],
        json!([{ "value": "home@example.org", "type": "home" },
               { "value": "john.doe@example.com", "type": "work", "primary": true }]),
        "the emails read back as written"
    );
    let id = jdoe["id"].as_str().unwrap();
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/users/{id}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["email"], "john.doe@example.com");
    assert_eq!(native["userName"], "jdoe");

    // Found by either, in any letter case.
    for text in [
        r#"userName eq "JDOE""#,
        r#"emails.value eq "John.Doe@example.com""#,
    ] {
        let found = list(&app, &t, &filter(text)).await;
        assert_eq!(found["totalResults"], 1, "{text}");
        assert_eq!(found["Resources"][0]["id"], id, "{text}");
    }
    assert_eq!(
        list(&app, &t, &filter(r#"userName eq "john.doe@example.com""#)).await["totalResults"],
        0
    );

    // Without emails, a userName that is an email address is the email.
    let ada = create_user(&app, &t, "ada@example.com").await;
    assert_eq!(ada["emails"][0]["value"], "ada@example.com");
    // userNames are unique regardless of case, also against an email serving as one.
    for (user_name, email) in [
        ("JDoe", "other1@example.com"),
        ("ADA@example.com", "other2@example.com"),
    ] {
        expect_error(
            post_user(
                &app,
                &t,
                json!({ "schemas": [USER], "userName": user_name, "emails": [{ "value": email }] }),
            )
            .await,
            409,
            Some("uniqueness"),
        )
        .await;
    }
    // Neither an email in emails nor a userName that is one: refused, nothing made.
    let refused = expect_error(
        post_user(&app, &t, json!({ "schemas": [USER], "userName": "nomail" })).await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("emails"),
        "{refused}"
    );
    expect_error(
        post_user(
            &app,
            &t,
            json!({ "schemas": [USER], "userName": "bad", "emails": [{ "value": "not an email" }] }),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert_eq!(list(&app, &t, "").await["totalResults"], 2);

    // A replace may change the userName alone; a patch of the email leaves it.
    let path = format!("/Users/{id}");
    let replaced = expect_scim(
        scim(
            &app,
            Method::PUT,
            &path,
            &t.admin,
            Some(json!({ "schemas": [USER], "userName": "john.doe",
                         "emails": [{ "value": "john.doe@example.com", "type": "work" }] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(replaced["userName"], "john.doe");
    let patched = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &path,
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "jd@example.com" }
        ] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["userName"], "john.doe");
    assert_eq!(patched["emails"][0]["value"], "jd@example.com");

    // Sorting by userName orders by it, not by the email.
    let sorted = list(&app, &t, "sortBy=userName").await;
    let names: Vec<&str> = sorted["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada@example.com", "john.doe"]);
}

#[tokio::test]
async fn a_root_search_pages_over_users_then_groups() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mut user_ids = Vec::new();
    for name in ["r1@example.com", "r2@example.com", "r3@example.com"] {
        user_ids.push(create_user(&app, &t, name).await["id"].clone());
    }
    let mut group_ids = Vec::new();
    for name in ["G1", "G2"] {
        let group = expect_scim(
            scim(
                &app,
                Method::POST,
                "/Groups",
                &t.admin,
                Some(json!({ "schemas": [GROUP], "displayName": name })),
            )
            .await,
            201,
        )
        .await;
        group_ids.push(group["id"].clone());
    }
    // Another tenant's resources are never found.
    let other = app.tenant().await;
    create_user(&app, &other, "r9@example.com").await;

    let search = |body: Value| {
        let mut body = body;
        body["schemas"] = json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]);
        scim(&app, Method::POST, "/.search", &t.admin, Some(body))
    };
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let page = expect_scim(
            search(json!({ "startIndex": start, "count": 2 })).await,
            200,
        )
        .await;
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["startIndex"], start);
        for resource in page["Resources"].as_array().unwrap() {
            let schema = if resource["meta"]["resourceType"] == "User" {
                USER
            } else {
                GROUP
            };
            assert_eq!(resource["schemas"][0], schema, "{resource}");
            seen.push(resource["id"].clone());
        }
    }
    let expected: Vec<Value> = user_ids.iter().chain(&group_ids).cloned().collect();
    assert_eq!(seen, expected, "users first, then groups, each in id order");

    // A filter applies to each type; an attribute one type lacks is unassigned there.
    let found = expect_scim(
        search(
            json!({ "filter": "userName sw \"r1\" or displayName eq \"g2\"",
                       "attributes": ["userName", "displayName"] }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["totalResults"], 2);
    assert_eq!(
        found["Resources"],
        json!([
            { "schemas": [USER], "id": user_ids[0], "userName": "r1@example.com" },
            { "schemas": [GROUP], "id": group_ids[1], "displayName": "G2" },
        ])
    );
    let absent = expect_scim(
        search(json!({ "filter": "not (userName pr)", "count": 0 })).await,
        200,
    )
    .await;
    assert_eq!(absent["totalResults"], 2, "the groups have no userName");
    expect_error(
        search(json!({ "filter": "favouriteColour eq \"x\"" })).await,
        400,
        Some("invalidFilter"),
    )
    .await;
    expect_error(
        search(json!({ "sortBy": "meta.created" })).await,
        400,
        Some("invalidValue"),
    )
    .await;
}

#[tokio::test]
async fn writes_answer_the_attributes_asked_for() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let response = scim(
        &app,
        Method::POST,
        "/Users?attributes=userName",
        &t.admin,
        Some(
            json!({ "schemas": [USER], "userName": "w@example.com", "name": { "givenName": "W" } }),
        ),
    )
    .await;
    assert!(response.headers().contains_key("location"));
    let created = expect_scim(response, 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created,
        json!({ "schemas": [USER], "id": id, "userName": "w@example.com" })
    );
    let replaced = expect_scim(
        scim(
            &app,
            Method::PUT,
            &format!("/Users/{id}?excludedAttributes=meta,groups,emails,roles"),
            &t.admin,
            Some(json!({ "schemas": [USER], "userName": "w@example.com", "active": false })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        replaced,
        json!({ "schemas": [USER], "id": id, "userName": "w@example.com", "active": false })
    );
    let patched = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Users/{id}?attributes=name.familyName"),
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": [
                { "op": "add", "path": "name.familyName", "value": "Wolf" }
            ] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        patched,
        json!({ "schemas": [USER], "id": id, "name": { "familyName": "Wolf" } })
    );

    let group = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Groups?excludedAttributes=members,meta",
            &t.admin,
            Some(json!({ "schemas": [GROUP], "displayName": "Shaped", "members": [{ "value": id }] })),
        )
        .await,
        201,
    )
    .await;
    let group_id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(
        group,
        json!({ "schemas": [GROUP], "id": group_id, "displayName": "Shaped" })
    );
    for method in [Method::PUT, Method::PATCH] {
        let body = if method == Method::PUT {
            json!({ "schemas": [GROUP], "displayName": "Reshaped" })
        } else {
            json!({ "schemas": [PATCH], "Operations": [
                { "op": "replace", "path": "displayName", "value": "Reshaped" }
            ] })
        };
        let changed = expect_scim(
            scim(
                &app,
                method,
                &format!("/Groups/{group_id}?attributes=displayName"),
                &t.admin,
                Some(body),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(
            changed,
            json!({ "schemas": [GROUP], "id": group_id, "displayName": "Reshaped" })
        );
    }
}

#[tokio::test]
async fn filters_on_user_names_and_emails_match_in_any_letter_case() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let ada = create_user(&app, &t, "Ada.Lovelace@Example.com").await;
    create_user(&app, &t, "charles@example.com").await;
    for text in [
        r#"userName eq "ADA.LOVELACE@example.COM""#,
        r#"userName sw "aDA.""#,
        r#"emails.value eq "ada.lovelace@EXAMPLE.com""#,
        r#"emails[value sw "ADA.love"]"#,
        r#"emails co "LOVELACE@""#,
        r#"emails ew "LACE@Example.COM""#,
        r#"name.familyName sw "LOVE" and userName ne "CHARLES@example.com""#,
    ] {
        let found = list(&app, &t, &filter(text)).await;
        assert_eq!(found["totalResults"], 1, "{text}: {found}");
        assert_eq!(found["Resources"][0]["id"], ada["id"], "{text}");
    }
}

#[tokio::test]
async fn a_member_batch_naming_an_unknown_user_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let ids: Vec<String> = crate::helpers::create_users(&app, &t, "batch", 5)
        .await
        .into_iter()
        .collect();
    let group = create_group(&app, &t.admin, "Batch").await;
    let gid = group["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{gid}");
    let value =
        |ids: &[String]| -> Vec<Value> { ids.iter().map(|id| json!({ "value": id })).collect() };
    let patch = |add: Vec<Value>, remove: Vec<Value>| {
        Some(json!({ "schemas": [PATCH], "Operations": [
            { "op": "add", "path": "members", "value": add },
            { "op": "remove", "path": "members", "value": remove },
        ] }))
    };
    let seeded = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &path,
            &t.admin,
            patch(value(&ids[3..]), vec![]),
        )
        .await,
        200,
    )
    .await;
    let version = seeded["meta"]["version"].clone();
    let audited = |action: &'static str| {
        let (app, t, gid) = (&app, &t, gid.clone());
        async move {
            let page = expect_json(
                app.get(
                    &format!(
                        "/v1/tenants/{}/audit-events?limit=1000&action={action}&target={gid}",
                        t.id
                    ),
                    &t.admin,
                )
                .await,
                200,
            )
            .await;
            page["items"].as_array().unwrap().clone()
        }
    };
    assert_eq!(audited("group.member.add").await.len(), 1);

    // Three added and two removed, with one unknown user among the added: nothing.
    let mut add = value(&ids[..3]);
    add.push(json!({ "value": uuid::Uuid::now_v7().to_string() }));
    let response = scim(
        &app,
        Method::PATCH,
        &path,
        &t.admin,
        patch(add, value(&ids[3..])),
    )
    .await;
    expect_error(response, 400, None).await;
    let unchanged = expect_scim(scim(&app, Method::GET, &path, &t.admin, None).await, 200).await;
    assert_eq!(unchanged["meta"]["version"], version);
    let members: HashSet<&str> = (unchanged["members"].as_array().unwrap().iter())
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, ids[3..].iter().map(String::as_str).collect());
    assert_eq!(audited("group.member.add").await.len(), 1);
    assert!(audited("group.member.remove").await.is_empty());

    // The same batch without it: one statement each way, one event each way.
    let changed = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &path,
            &t.admin,
            patch(value(&ids[..3]), value(&ids[3..])),
        )
        .await,
        200,
    )
    .await;
    let members: HashSet<&str> = (changed["members"].as_array().unwrap().iter())
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, ids[..3].iter().map(String::as_str).collect());
    let added = audited("group.member.add").await;
    assert_eq!(added.len(), 2);
    let removed = audited("group.member.remove").await;
    assert_eq!(removed.len(), 1);
    let mut named: Vec<&str> = (removed[0]["details"]["userIds"].as_array().unwrap().iter())
        .map(|id| id.as_str().unwrap())
        .collect();
    named.sort_unstable();
    let mut expected: Vec<&str> = ids[3..].iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(named, expected);
}
