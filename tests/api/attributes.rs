//! Tenant-declared user attributes: their declarations through /v1.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{OPERATOR_TOKEN, TestApp, expect_json, expect_problem, problem_fields};
use crate::scim::{
    PATCH as SCIM_PATCH, USER as SCIM_USER, expect_error, expect_scim, scim, urlencode,
};

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

const EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";

/// Declares the attributes the value tests use: a unique integer badge, string tags,
/// a start date, a flag and an immutable hire code.
async fn declare_attributes(app: &TestApp, t: &crate::helpers::TestTenant) {
    let attributes = format!("/v1/tenants/{}/attributes", t.id);
    for declaration in [
        json!({"name": "badge", "type": "integer", "unique": true}),
        json!({"name": "tags", "type": "string", "multiValued": true}),
        json!({"name": "startDate", "type": "dateTime"}),
        json!({"name": "vip", "type": "boolean"}),
        json!({"name": "hireCode", "type": "string", "mutability": "immutable", "caseExact": true}),
    ] {
        expect_json(app.post(&attributes, &t.admin, &declaration).await, 201).await;
    }
}

#[tokio::test]
async fn declared_values_round_trip_through_scim_and_the_native_api() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    declare_attributes(&app, &t).await;
    let values = json!({
        "badge": 7,
        "tags": ["blue", "Green"],
        "startDate": "2026-01-05T09:00:00.000Z",
        "vip": true,
        "hireCode": "H-1",
    });
    let created = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Users",
            &t.admin,
            Some(json!({
                "schemas": [SCIM_USER, EXTENSION],
                "userName": "ann@acme.com",
                EXTENSION: values,
            })),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created[EXTENSION], values);
    assert!(created["schemas"].to_string().contains(EXTENSION));
    let id = created["id"].as_str().unwrap().to_owned();
    let read = expect_scim(
        scim(&app, Method::GET, &format!("/Users/{id}"), &t.admin, None).await,
        200,
    )
    .await;
    assert_eq!(read[EXTENSION], values);

    // The native API shows and changes the same values.
    let native = format!("/v1/tenants/{}/users/{id}", t.id);
    let user = expect_json(app.get(&native, &t.admin).await, 200).await;
    assert_eq!(user["attributes"], values);
    let changed = app
        .patch(
            &native,
            &t.admin,
            &json!({"attributes": {"BADGE": 8, "vip": null}}),
        )
        .await;
    let changed = expect_json(changed, 200).await;
    assert_eq!(changed["attributes"]["badge"], 8);
    assert!(changed["attributes"].get("vip").is_none());

    // SCIM PATCH reaches them by their URN-qualified paths.
    let patched = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Users/{id}"),
            &t.admin,
            Some(json!({"schemas": [SCIM_PATCH], "Operations": [
                {"op": "replace", "path": format!("{EXTENSION}:badge"), "value": 9},
                {"op": "add", "path": format!("{EXTENSION}:tags"), "value": ["red"]},
                {"op": "remove", "path": format!("{EXTENSION}:startDate")},
                {"op": "replace", "value": {EXTENSION: {"vip": "True"}}},
            ]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        patched[EXTENSION],
        json!({"badge": 9, "tags": ["blue", "Green", "red"], "vip": true, "hireCode": "H-1"})
    );

    // A PUT without the immutable one's value would change it: refused.
    let refused = scim(
        &app,
        Method::PUT,
        &format!("/Users/{id}"),
        &t.admin,
        Some(json!({"schemas": [SCIM_USER], "userName": "ann@acme.com"})),
    )
    .await;
    let refused = expect_error(refused, 400, Some("invalidValue")).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("hireCode"),
        "{refused}"
    );
    let put = expect_scim(
        scim(
            &app,
            Method::PUT,
            &format!("/Users/{id}"),
            &t.admin,
            Some(
                json!({"schemas": [SCIM_USER, EXTENSION], "userName": "ann@acme.com",
                        EXTENSION: {"hireCode": "H-1"}}),
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(put[EXTENSION], json!({"hireCode": "H-1"}));
}

#[tokio::test]
async fn declared_attributes_are_filtered_on() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    declare_attributes(&app, &t).await;
    for (name, badge, tags, start) in [
        ("a@acme.com", 1, json!(["blue"]), "2026-01-01T00:00:00Z"),
        (
            "b@acme.com",
            5,
            json!(["Blue", "green"]),
            "2026-03-01T00:00:00Z",
        ),
        ("c@acme.com", 9, json!([]), "2026-06-01T00:00:00Z"),
    ] {
        let body = json!({"schemas": [SCIM_USER, EXTENSION], "userName": name,
                          EXTENSION: {"badge": badge, "tags": tags, "startDate": start}});
        expect_scim(
            scim(&app, Method::POST, "/Users", &t.admin, Some(body)).await,
            201,
        )
        .await;
    }
    let found = |filter: String| {
        let app = &app;
        let token = t.admin.clone();
        async move {
            let path = format!("/Users?filter={}", urlencode(&filter));
            let list = expect_scim(scim(app, Method::GET, &path, &token, None).await, 200).await;
            let mut names: Vec<String> = list["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        found(format!("{EXTENSION}:badge eq 5")).await,
        ["b@acme.com"]
    );
    assert_eq!(
        found(format!("{EXTENSION}:badge gt 1")).await,
        ["b@acme.com", "c@acme.com"]
    );
    assert_eq!(
        found(format!(r#"{EXTENSION}:tags eq "BLUE""#)).await,
        ["a@acme.com", "b@acme.com"]
    );
    assert_eq!(
        found(format!("{EXTENSION}:tags pr")).await,
        ["a@acme.com", "b@acme.com"]
    );
    assert_eq!(
        found(format!(
            r#"{EXTENSION}:startDate ge "2026-03-01T00:00:00Z""#
        ))
        .await,
        ["b@acme.com", "c@acme.com"]
    );
    assert_eq!(
        found(format!(r#"{EXTENSION}:badge ne 5 and userName sw "a""#)).await,
        ["a@acme.com"]
    );
    let wrong = scim(
        &app,
        Method::GET,
        &format!(
            "/Users?filter={}",
            urlencode(&format!(r#"{EXTENSION}:badge eq "x""#))
        ),
        &t.admin,
        None,
    )
    .await;
    expect_error(wrong, 400, Some("invalidFilter")).await;
}

#[tokio::test]
async fn every_face_refuses_values_of_the_wrong_type_duplicates_and_missing_required_ones() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    declare_attributes(&app, &t).await;
    let users = format!("/v1/tenants/{}/users", t.id);

    let wrong = app
        .post(
            &users,
            &t.admin,
            &json!({"email": "w@acme.com", "firstName": "W", "lastName": "X",
                    "attributes": {"badge": "seven", "colour": "red"}}),
        )
        .await;
    let wrong = expect_problem(wrong, 400).await;
    assert_eq!(
        problem_fields(&wrong),
        ["attributes.badge", "attributes.colour"]
    );
    let scim_wrong = scim(
        &app,
        Method::POST,
        "/Users",
        &t.admin,
        Some(json!({"schemas": [SCIM_USER], "userName": "w@acme.com", EXTENSION: {"vip": 3}})),
    )
    .await;
    expect_error(scim_wrong, 400, Some("invalidValue")).await;

    let first = json!({"email": "one@acme.com", "firstName": "O", "lastName": "N",
                       "attributes": {"badge": 1}});
    expect_json(app.post(&users, &t.admin, &first).await, 201).await;
    let twin = json!({"email": "two@acme.com", "firstName": "T", "lastName": "W",
                      "attributes": {"badge": 1}});
    expect_problem(app.post(&users, &t.admin, &twin).await, 409).await;
    let scim_twin = scim(
        &app,
        Method::POST,
        "/Users",
        &t.admin,
        Some(json!({"schemas": [SCIM_USER], "userName": "two@acme.com", EXTENSION: {"badge": 1}})),
    )
    .await;
    expect_error(scim_twin, 409, Some("uniqueness")).await;

    // Nothing was written by the refusals.
    let listed = expect_json(app.get(&users, &t.admin).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // A required attribute must be given on every face, the vendor ones included.
    let attributes = format!("/v1/tenants/{}/attributes", t.id);
    expect_json(
        app.post(
            &attributes,
            &t.admin,
            &json!({"name": "costCode", "type": "string", "required": true}),
        )
        .await,
        201,
    )
    .await;
    let missing = app
        .post(
            &users,
            &t.admin,
            &json!({"email": "m@acme.com", "firstName": "M", "lastName": "N"}),
        )
        .await;
    assert_eq!(
        problem_fields(&expect_problem(missing, 400).await),
        ["attributes.costCode"]
    );
    // Tyk's key goes in `authorization` without a scheme word.
    let tyk = reqwest::Client::new()
        .post(app.url("/api/users"))
        .header("authorization", &t.admin)
        .json(&json!({"email_address": "k@acme.com", "first_name": "K", "last_name": "Y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tyk.status(), 400);
    let given = json!({"email": "g@acme.com", "firstName": "G", "lastName": "H",
                       "attributes": {"costcode": "CC-1"}});
    let given = expect_json(app.post(&users, &t.admin, &given).await, 201).await;
    assert_eq!(given["attributes"]["costCode"], "CC-1");
}

#[tokio::test]
async fn a_declaration_shows_at_once_where_made_and_within_seconds_elsewhere() {
    let app = TestApp::spawn().await;
    let other = app.spawn_sharing(|_| {}).await;
    let t = app.tenant().await;
    let attributes = format!("/v1/tenants/{}/attributes", t.id);
    let names = |list: serde_json::Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Both instances have read the tenant's (empty) declarations.
    for instance in [&app, &other] {
        let list = expect_json(instance.get(&attributes, &t.admin).await, 200).await;
        assert!(names(list).is_empty());
    }
    let declared_at = std::time::Instant::now();
    let body = json!({"name": "costCode", "type": "string"});
    expect_json(app.post(&attributes, &t.admin, &body).await, 201).await;
    let here = expect_json(app.get(&attributes, &t.admin).await, 200).await;
    assert_eq!(names(here), ["costCode"]);
    let bound = std::time::Duration::from_secs(roster::service::TRUST_SECONDS);
    tokio::time::sleep((declared_at + bound).saturating_duration_since(std::time::Instant::now()))
        .await;
    let there = expect_json(other.get(&attributes, &t.admin).await, 200).await;
    assert_eq!(names(there), ["costCode"]);
    // And a deletion here shows here at once.
    assert_eq!(
        app.delete(&format!("{attributes}/costCode"), &t.admin)
            .await
            .status(),
        204
    );
    let here = expect_json(app.get(&attributes, &t.admin).await, 200).await;
    assert!(names(here).is_empty());
}
