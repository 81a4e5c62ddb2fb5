//! SCIM input a hostile client may send: filters and PATCH paths beyond their
//! declared limits, wrong-typed attributes, and PATCH paths that name nothing. Each
//! is a 400 in the SCIM error format with nothing written, and the server goes on
//! serving; the largest filters within the limits answer 200 on either backend.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, expect_json};
use crate::scim::{GROUP, PATCH, USER, create_group, expect_error, expect_scim, scim};

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The limits docs/scim.md declares.
const MAX_FILTER_DEPTH: usize = 32;
const MAX_FILTER_TERMS: usize = 200;
const MAX_FILTER_LENGTH: usize = 16 * 1024;
const MAX_PATH_LENGTH: usize = MAX_FILTER_LENGTH + 1024;
const MAX_PATCH_OPERATIONS: usize = 1000;

/// `GET /scim/v2{path}?filter=<text>`, the filter form-encoded.
async fn list_filtered(app: &TestApp, path: &str, token: &str, filter: &str) -> reqwest::Response {
    app.request(Method::GET, &format!("/scim/v2{path}"), token)
        .query(&[("filter", filter)])
        .send()
        .await
        .expect("request sent")
}

/// `POST /scim/v2{path}` with a SearchRequest of `filter`.
async fn search(app: &TestApp, path: &str, token: &str, filter: &str) -> reqwest::Response {
    let body = json!({ "schemas": [SEARCH], "filter": filter });
    scim(app, Method::POST, path, token, Some(body)).await
}

/// Asserts a 400 of `scim_type` whose detail names `limit`.
async fn expect_refused(response: reqwest::Response, scim_type: &str, limit: usize) {
    let error = expect_error(response, 400, Some(scim_type)).await;
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains(&limit.to_string()), "{error}");
}

async fn expect_serving(app: &TestApp) {
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// Every way to filter users: the list, its search and the root search.
/// The filter parser's limits reach past the default URI limit (a longer GET is 414
/// before any parser sees it): these tests raise it so that GET filters reach the
/// parser as `/.search` bodies do.
async fn spawn_with_long_uris() -> TestApp {
    TestApp::spawn_with(|s| s.http.max_uri_bytes = 256 * 1024).await
}

async fn expect_every_filter_refused(app: &TestApp, token: &str, filter: &str, limit: usize) {
    expect_refused(
        list_filtered(app, "/Users", token, filter).await,
        "invalidFilter",
        limit,
    )
    .await;
    expect_refused(
        list_filtered(app, "/Groups", token, filter).await,
        "invalidFilter",
        limit,
    )
    .await;
    expect_refused(
        search(app, "/Users/.search", token, filter).await,
        "invalidFilter",
        limit,
    )
    .await;
    expect_refused(
        search(app, "/.search", token, filter).await,
        "invalidFilter",
        limit,
    )
    .await;
    expect_serving(app).await;
}

#[tokio::test]
async fn a_scim_filter_nested_too_deep_is_invalid_filter() {
    let app = spawn_with_long_uris().await;
    let t = app.tenant().await;
    let reader = app.api_key(&t.id, "reader").await;
    let deep = format!("{}userName pr{}", "(".repeat(1500), ")".repeat(1500));
    expect_every_filter_refused(&app, &reader, &deep, MAX_FILTER_DEPTH).await;
    let one_too_deep = format!(
        "{}userName pr{}",
        "not (".repeat(MAX_FILTER_DEPTH + 1),
        ")".repeat(MAX_FILTER_DEPTH + 1)
    );
    expect_every_filter_refused(&app, &reader, &one_too_deep, MAX_FILTER_DEPTH).await;
}

#[tokio::test]
async fn a_scim_filter_of_thousands_of_terms_is_invalid_filter() {
    let app = spawn_with_long_uris().await;
    let t = app.tenant().await;
    let reader = app.api_key(&t.id, "reader").await;
    // 5,000 terms: over the length limit before the parser counts them.
    let wide = vec!["id pr"; 5000].join(" or ");
    expect_every_filter_refused(&app, &reader, &wide, MAX_FILTER_LENGTH).await;
    let wide_and = vec!["id pr"; 5000].join(" and ");
    expect_every_filter_refused(&app, &reader, &wide_and, MAX_FILTER_LENGTH).await;
    // One condition over the limit, well within the length.
    let over = vec!["id pr"; MAX_FILTER_TERMS + 1].join(" or ");
    expect_every_filter_refused(&app, &reader, &over, MAX_FILTER_TERMS).await;
}

#[tokio::test]
async fn the_deepest_and_widest_accepted_scim_filters_answer_200() {
    let app = spawn_with_long_uris().await;
    let t = app.tenant().await;
    let reader = app.api_key(&t.id, "reader").await;
    let user = app.user(&t, "ada@example.com").await;
    let user_id = user["id"].as_str().unwrap();
    let group = app.group(&t, "Engines").await;
    let group_id = group["id"].as_str().unwrap();
    let member = format!("/v1/tenants/{}/groups/{group_id}/members/{user_id}", t.id);
    assert_eq!(app.put(&member, &t.admin).await.status(), 204);

    let nested = |levels: usize, leaf: &str| {
        // A value path's filter holds its own conditions, and is a level of its own.
        let width = MAX_FILTER_TERMS / (1 + leaf.matches(" and ").count());
        let chain = vec![leaf; width].join(" or ");
        format!("{}{chain}{}", "not (".repeat(levels), ")".repeat(levels))
    };
    // The statement's deepest shape: each level's chain holds the next as its first
    // operand.
    let leaf = r#"name.familyName ew "user""#;
    let per_level = MAX_FILTER_TERMS / MAX_FILTER_DEPTH;
    let mut stacked = leaf.to_owned();
    for _ in 0..MAX_FILTER_DEPTH {
        stacked = format!(
            "({stacked} and {})",
            vec![leaf; per_level - 1].join(" and ")
        );
    }
    let user_filters = [
        nested(MAX_FILTER_DEPTH, r#"name.familyName ew "user""#),
        nested(MAX_FILTER_DEPTH, &format!("groups eq \"{group_id}\"")),
        nested(
            MAX_FILTER_DEPTH - 1,
            r#"emails[type eq "work" and value co "@"]"#,
        ),
        stacked,
    ];
    for filter in &user_filters {
        assert!(filter.len() <= MAX_FILTER_LENGTH, "{}", filter.len());
        let listed = expect_scim(list_filtered(&app, "/Users", &reader, filter).await, 200).await;
        assert!(listed["totalResults"].is_number(), "{listed}");
        expect_scim(search(&app, "/Users/.search", &reader, filter).await, 200).await;
        expect_scim(search(&app, "/.search", &reader, filter).await, 200).await;
    }
    // An even nesting of not (…) keeps the condition: the user is found.
    let found = expect_scim(
        list_filtered(
            &app,
            "/Users",
            &reader,
            &nested(MAX_FILTER_DEPTH, r#"name.familyName ew "user""#),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let members = nested(MAX_FILTER_DEPTH, &format!("members eq \"{user_id}\""));
    let groups = expect_scim(list_filtered(&app, "/Groups", &reader, &members).await, 200).await;
    assert_eq!(groups["totalResults"], 1, "{groups}");
}

async fn create_user(app: &TestApp, t: &TestTenant) -> Value {
    expect_scim(
        scim(
            app,
            Method::POST,
            "/Users",
            &t.admin,
            Some(json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "grace@example.com",
                "name": { "givenName": "Grace", "familyName": "Hopper" },
                "emails": [{ "value": "grace@example.com", "type": "work", "primary": true }],
                "phoneNumbers": [{ "value": "+1 555 0100", "type": "work" }],
                ENTERPRISE: { "organization": "Navy" },
                "active": true,
            })),
        )
        .await,
        201,
    )
    .await
}

/// A user resource as stored, without the parts a read adds (nothing here).
async fn stored(app: &TestApp, t: &TestTenant, id: &str) -> Value {
    expect_scim(
        scim(app, Method::GET, &format!("/Users/{id}"), &t.admin, None).await,
        200,
    )
    .await
}

/// Wrong-typed attributes, each with the attribute and JSON type the error names.
fn wrong_typed() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    vec![
        ("name", json!(42), "name", "an object"),
        ("name", json!("Grace Hopper"), "name", "an object"),
        (
            "name",
            json!({ "givenName": 5 }),
            "name.givenName",
            "a string",
        ),
        (
            "name",
            json!({ "familyName": ["x"] }),
            "name.familyName",
            "a string",
        ),
        ("emails", json!("x"), "emails", "an array"),
        ("emails", json!([5]), "emails", "an array of objects"),
        (
            "emails",
            json!([{ "value": 5 }]),
            "emails.value",
            "a string",
        ),
        (
            "emails",
            json!([{ "value": "g@example.com", "primary": "yes" }]),
            "emails.primary",
            "a boolean",
        ),
        ("active", json!("yes"), "active", "a boolean"),
        ("active", json!(1), "active", "a boolean"),
        ("userName", json!(7), "userName", "a string"),
        (
            "phoneNumbers",
            json!({ "value": "+1" }),
            "phoneNumbers",
            "an array",
        ),
        (
            "phoneNumbers",
            json!([{ "value": 1 }]),
            "phoneNumbers.value",
            "a string",
        ),
        (
            "addresses",
            json!([{ "country": true }]),
            "addresses.country",
            "a string",
        ),
        (
            "roles",
            json!([5]),
            "roles",
            "an array of objects or strings",
        ),
        ("roles", json!({ "value": "admin" }), "roles", "an array"),
        ("externalId", json!(5), "externalId", "a string"),
        (ENTERPRISE, json!(5), ENTERPRISE, "an object"),
        (
            ENTERPRISE,
            json!({ "organization": 5 }),
            "organization",
            "a string",
        ),
        ("schemas", json!(USER), "schemas", "an array of strings"),
        ("meta", json!(5), "meta", "an object"),
    ]
}

fn assert_names(error: &Value, field: &str, expected: &str) {
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.starts_with(&format!("{field}: ")), "{error}");
    assert!(detail.contains(expected), "{error}");
    assert!(
        !detail.contains("::") && !detail.contains("serde"),
        "{error}"
    );
}

#[tokio::test]
async fn a_scim_put_with_wrong_typed_attributes_is_invalid_value_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = create_user(&app, &t).await;
    let id = user["id"].as_str().unwrap();
    let before = stored(&app, &t, id).await;
    for (attribute, value, field, expected) in wrong_typed() {
        let mut body = before.clone();
        body[attribute] = value;
        let error = expect_error(
            scim(
                &app,
                Method::PUT,
                &format!("/Users/{id}"),
                &t.admin,
                Some(body),
            )
            .await,
            400,
            Some("invalidValue"),
        )
        .await;
        assert_names(&error, field, expected);
    }
    assert_eq!(stored(&app, &t, id).await, before);
}

#[tokio::test]
async fn a_scim_post_with_wrong_typed_attributes_is_invalid_value_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let valid = json!({
        "schemas": [USER],
        "userName": "new@example.com",
        "emails": [{ "value": "new@example.com" }],
    });
    for (attribute, value, field, expected) in wrong_typed() {
        let mut body = valid.clone();
        body[attribute] = value;
        let error = expect_error(
            scim(&app, Method::POST, "/Users", &t.admin, Some(body)).await,
            400,
            Some("invalidValue"),
        )
        .await;
        assert_names(&error, field, expected);
    }
    let error = expect_error(
        scim(&app, Method::POST, "/Users", &t.admin, Some(json!([valid]))).await,
        400,
        Some("invalidSyntax"),
    )
    .await;
    assert!(
        error["detail"].as_str().unwrap().contains("an array"),
        "{error}"
    );
    let listed = expect_scim(scim(&app, Method::GET, "/Users", &t.admin, None).await, 200).await;
    assert_eq!(listed["totalResults"], 0, "{listed}");
}

async fn patch_user(
    app: &TestApp,
    t: &TestTenant,
    id: &str,
    operations: Value,
) -> reqwest::Response {
    let body = json!({ "schemas": [PATCH], "Operations": operations });
    scim(
        app,
        Method::PATCH,
        &format!("/Users/{id}"),
        &t.admin,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_scim_patch_on_an_unknown_path_is_invalid_path_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = create_user(&app, &t).await;
    let id = user["id"].as_str().unwrap();
    let before = stored(&app, &t, id).await;
    for path in [
        "favouriteColour",
        "name.nickName",
        "emails.colour",
        r#"emails[colour eq "x"].value"#,
        r#"name[givenName eq "Grace"]"#,
        &format!("{ENTERPRISE}:boss"),
        &format!("{GROUP}:displayName"),
        "urn:example:unknown:1.0:User:x",
        "emails[type eq",
    ] {
        // A change that would be valid first: the request is refused whole.
        let operations = json!([
            { "op": "replace", "path": "name.givenName", "value": "Amazing" },
            { "op": "add", "path": path, "value": "x" },
        ]);
        expect_error(
            patch_user(&app, &t, id, operations).await,
            400,
            Some("invalidPath"),
        )
        .await;
    }
    let no_path =
        json!([{ "op": "replace", "value": { "active": false, "favouriteColour": "x" } }]);
    expect_error(
        patch_user(&app, &t, id, no_path).await,
        400,
        Some("invalidPath"),
    )
    .await;
    let read_only = json!([{ "op": "replace", "path": "groups", "value": [] }]);
    expect_error(
        patch_user(&app, &t, id, read_only).await,
        400,
        Some("mutability"),
    )
    .await;
    assert_eq!(stored(&app, &t, id).await, before);
}

#[tokio::test]
async fn a_scim_patch_whose_value_filter_matches_nothing_is_no_target() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = create_user(&app, &t).await;
    let id = user["id"].as_str().unwrap();
    let before = stored(&app, &t, id).await;
    for operation in [
        json!({ "op": "replace", "path": r#"addresses[type eq "work"].country"#, "value": "DE" }),
        json!({ "op": "replace", "path": r#"emails[value eq "other@example.com"]"#, "value": { "value": "x@example.com" } }),
        json!({ "op": "remove", "path": r#"phoneNumbers[value eq "+1 555 0199"]"# }),
        json!({ "op": "remove", "path": r#"emails[type eq "home"].value"# }),
    ] {
        expect_error(
            patch_user(&app, &t, id, json!([operation])).await,
            400,
            Some("noTarget"),
        )
        .await;
    }
    assert_eq!(stored(&app, &t, id).await, before);
    // A filter that matches changes what it matches.
    let patched = expect_scim(
        patch_user(
            &app,
            &t,
            id,
            json!([{ "op": "replace", "path": r#"phoneNumbers[type eq "work"].value"#, "value": "+1 555 0101" }]),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["phoneNumbers"][0]["value"], "+1 555 0101");
    // A filter on primary finds the value marked primary.
    let patched = expect_scim(
        patch_user(
            &app,
            &t,
            id,
            json!([{ "op": "replace", "path": r#"emails[primary eq "True"].type"#, "value": "home" }]),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        patched["emails"],
        json!([{ "value": "grace@example.com", "type": "home", "primary": true }])
    );
    // A value added as primary takes primary from the one there was (RFC 7644 §3.5.2).
    let patched = expect_scim(
        patch_user(
            &app,
            &t,
            id,
            json!([{ "op": "add", "path": "emails", "value": [{ "value": "amazing@example.com", "primary": true }] }]),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        patched["emails"],
        json!([{ "value": "grace@example.com", "type": "home" },
               { "value": "amazing@example.com", "primary": true }])
    );

    // Removing a member the group does not have.
    let group = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Groups",
            &t.admin,
            Some(
                json!({ "schemas": [GROUP], "displayName": "Navy", "members": [{ "value": id }] }),
            ),
        )
        .await,
        201,
    )
    .await;
    let group_path = format!("/Groups/{}", group["id"].as_str().unwrap());
    let stranger = app.user(&t, "stranger@example.com").await;
    let remove = |member: &str| {
        json!({ "schemas": [PATCH], "Operations": [
            { "op": "remove", "path": format!("members[value eq \"{member}\"]") }
        ] })
    };
    let body = remove(stranger["id"].as_str().unwrap());
    let response = scim(&app, Method::PATCH, &group_path, &t.admin, Some(body)).await;
    expect_error(response, 400, Some("noTarget")).await;
    let unchanged = expect_scim(
        scim(&app, Method::GET, &group_path, &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(unchanged, group);
    // Added earlier in the same request, the member is there to remove.
    let stranger_id = stranger["id"].as_str().unwrap();
    let body = json!({ "schemas": [PATCH], "Operations": [
        { "op": "add", "path": "members", "value": [{ "value": stranger_id }] },
        { "op": "remove", "path": format!("members[value eq \"{stranger_id}\"]") },
        { "op": "remove", "path": format!("members[value eq \"{id}\"]") },
    ] });
    let emptied = expect_scim(
        scim(&app, Method::PATCH, &group_path, &t.admin, Some(body)).await,
        200,
    )
    .await;
    assert_eq!(emptied["members"], json!([]));
}

#[tokio::test]
async fn a_scim_patch_beyond_its_limits_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = create_user(&app, &t).await;
    let id = user["id"].as_str().unwrap();
    let before = stored(&app, &t, id).await;

    let long = format!(
        r#"emails[value eq "{}"].value"#,
        "x".repeat(MAX_PATH_LENGTH)
    );
    let operations = json!([{ "op": "replace", "path": long, "value": "y" }]);
    expect_refused(
        patch_user(&app, &t, id, operations).await,
        "invalidPath",
        MAX_PATH_LENGTH,
    )
    .await;
    let deep = format!(
        "emails[{}value pr{}].value",
        "(".repeat(1500),
        ")".repeat(1500)
    );
    let operations = json!([{ "op": "replace", "path": deep, "value": "y" }]);
    expect_refused(
        patch_user(&app, &t, id, operations).await,
        "invalidPath",
        MAX_FILTER_DEPTH,
    )
    .await;
    let wide = format!("emails[{}]", vec!["value pr"; 5000].join(" or "));
    let operations = json!([{ "op": "remove", "path": wide }]);
    expect_refused(
        patch_user(&app, &t, id, operations).await,
        "invalidPath",
        MAX_PATH_LENGTH,
    )
    .await;

    let one = json!({ "op": "replace", "path": "name.givenName", "value": "Amazing" });
    let operations = json!(vec![one.clone(); MAX_PATCH_OPERATIONS + 1]);
    expect_refused(
        patch_user(&app, &t, id, operations).await,
        "invalidValue",
        MAX_PATCH_OPERATIONS,
    )
    .await;
    assert_eq!(stored(&app, &t, id).await, before);
    expect_serving(&app).await;

    let operations = json!(vec![one; MAX_PATCH_OPERATIONS]);
    let patched = expect_json(patch_user(&app, &t, id, operations).await, 200).await;
    assert_eq!(patched["name"]["givenName"], "Amazing");
}

#[tokio::test]
async fn scim_bodies_nested_too_deep_and_bulk_patches_beyond_the_limits_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for path in ["/Users", "/Bulk", "/.search"] {
        let response = app
            .request(Method::POST, &format!("/scim/v2{path}"), &t.admin)
            .header("content-type", "application/scim+json")
            .body(deep.clone())
            .send()
            .await
            .unwrap();
        expect_error(response, 400, Some("invalidSyntax")).await;
    }
    expect_serving(&app).await;

    let user = create_user(&app, &t).await;
    let id = user["id"].as_str().unwrap();
    let before = stored(&app, &t, id).await;
    let deep_path = format!(
        "emails[{}value pr{}].value",
        "(".repeat(1500),
        ")".repeat(1500)
    );
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            { "method": "PATCH", "path": format!("/Users/{id}"), "data": {
                "schemas": [PATCH], "Operations": [{ "op": "replace", "path": deep_path, "value": "x" }] } },
            { "method": "PATCH", "path": format!("/Users/{id}"), "data": {
                "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "favouriteColour", "value": "x" }] } },
        ],
    });
    let reply = expect_scim(
        scim(&app, Method::POST, "/Bulk", &t.admin, Some(body)).await,
        200,
    )
    .await;
    for outcome in reply["Operations"].as_array().unwrap() {
        assert_eq!(outcome["status"], "400", "{reply}");
        assert_eq!(outcome["response"]["scimType"], "invalidPath", "{reply}");
    }
    assert_eq!(stored(&app, &t, id).await, before);
}

#[tokio::test]
async fn scim_group_writes_with_wrong_typed_attributes_are_invalid_value_and_change_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let group = create_group(&app, &t.admin, "Crew").await;
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    for (attribute, value, field) in [
        ("displayName", json!(5), "displayName"),
        ("externalId", json!(["x"]), "externalId"),
        ("members", json!("x"), "members"),
        ("members", json!([{ "value": 5 }]), "members.value"),
        ("members", json!([5]), "members.value"),
    ] {
        let mut body = json!({ "schemas": [GROUP], "displayName": "Other" });
        body[attribute] = value;
        for (method, at) in [(Method::POST, "/Groups"), (Method::PUT, path.as_str())] {
            let response = scim(&app, method, at, &t.admin, Some(body.clone())).await;
            let error = expect_error(response, 400, Some("invalidValue")).await;
            let detail = error["detail"].as_str().unwrap();
            assert!(detail.starts_with(&format!("{field}: ")), "{error}");
        }
    }
    let unchanged = expect_scim(scim(&app, Method::GET, &path, &t.admin, None).await, 200).await;
    assert_eq!(unchanged, group);
    let listed = expect_scim(
        scim(&app, Method::GET, "/Groups", &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(listed["totalResults"], 1, "{listed}");
}
