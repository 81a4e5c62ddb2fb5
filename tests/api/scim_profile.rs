//! The full SCIM user profile (RFC 7643 §4.1, §4.3): what an identity provider
//! writes is what it reads back, as Entra ID and Okta provision by default.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, expect_json};
use crate::scim::{PATCH, USER, expect_error, expect_scim, scim, urlencode};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn post(app: &TestApp, t: &TestTenant, body: &Value) -> Value {
    expect_scim(
        scim(app, Method::POST, "/Users", &t.admin, Some(body.clone())).await,
        201,
    )
    .await
}

async fn get(app: &TestApp, t: &TestTenant, id: &str) -> Value {
    expect_scim(
        scim(app, Method::GET, &format!("/Users/{id}"), &t.admin, None).await,
        200,
    )
    .await
}

async fn patch(app: &TestApp, t: &TestTenant, id: &str, operations: Value) -> Value {
    expect_scim(
        scim(
            app,
            Method::PATCH,
            &format!("/Users/{id}"),
            &t.admin,
            Some(json!({ "schemas": [PATCH], "Operations": operations })),
        )
        .await,
        200,
    )
    .await
}

/// A resource as the provider wrote it: without what the service adds (id, meta,
/// groups), and its manager as the provider names it (its id).
fn as_written(resource: &Value) -> Value {
    let mut resource = resource.clone();
    let object = resource.as_object_mut().expect("a resource");
    for added in ["id", "meta", "groups"] {
        object.remove(added);
    }
    if let Some(manager) = object
        .get_mut(ENTERPRISE)
        .and_then(|e| e.get_mut("manager"))
    {
        *manager = json!({ "value": manager["value"] });
    }
    resource
}

/// Asserts that the user reads back as `expected`, its manager (if any) resolved to
/// its display name among `managers` (id, displayName).
async fn reads_back(
    app: &TestApp,
    t: &TestTenant,
    id: &str,
    expected: &Value,
    managers: &[(&str, &str)],
) {
    let read = get(app, t, id).await;
    assert_eq!(as_written(&read), *expected, "{read}");
    if let Some(reference) = read[ENTERPRISE].get("manager") {
        let manager_id = reference["value"].as_str().expect("a manager id");
        let name = managers
            .iter()
            .find(|(id, _)| *id == manager_id)
            .map(|(_, name)| *name);
        assert_eq!(reference["displayName"].as_str(), name, "{read}");
        assert!(
            reference["$ref"]
                .as_str()
                .is_some_and(|r| r.ends_with(&format!("/scim/v2/Users/{manager_id}"))),
            "{read}"
        );
    }
}

/// What a PATCH is expected to change in the resource as written.
type Change = Box<dyn Fn(&mut Value)>;

async fn manager(app: &TestApp, t: &TestTenant, user_name: &str, display: &str) -> String {
    let made = post(
        app,
        t,
        &json!({ "schemas": [USER], "userName": user_name, "displayName": display }),
    )
    .await;
    made["id"].as_str().expect("an id").to_owned()
}

/// What Entra ID's default attribute mapping sends for a user.
fn entra_user(manager: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "8c3a1f2e-5b7d-4e0a-9f61-2d4c8b7a9e10",
        "userName": "AlexW@contoso.com",
        "active": true,
        "displayName": "Alex Wilber",
        "title": "Marketing Assistant",
        "preferredLanguage": "en-US",
        "emails": [{ "primary": true, "type": "work", "value": "AlexW@contoso.com" }],
        "name": { "givenName": "Alex", "familyName": "Wilber" },
        "addresses": [{
            "type": "work",
            "streetAddress": "1 Microsoft Way",
            "locality": "Redmond",
            "region": "WA",
            "postalCode": "98052",
            "country": "US",
        }],
        "phoneNumbers": [
            { "type": "work", "value": "+1 425 555 0100" },
            { "type": "mobile", "value": "+1 425 555 0101" },
            { "type": "fax", "value": "+1 425 555 0102" },
        ],
        ENTERPRISE: {
            "employeeNumber": "E-1001",
            "department": "Marketing",
            "costCenter": "CC-42",
            "organization": "Contoso",
            "division": "Sales",
            "manager": { "value": manager },
        },
    })
}

#[tokio::test]
async fn an_entra_id_provisioning_run_reads_back_exactly_what_it_wrote() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let megan = manager(&app, &t, "MeganB@contoso.com", "Megan Bowen").await;
    let sent = entra_user(&megan);
    let created = post(&app, &t, &sent).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["groups"], json!([]));
    assert_eq!(as_written(&created), sent, "{created}");
    let mut expected = sent.clone();
    expected["schemas"] = json!([USER, ENTERPRISE]);
    let nestor = manager(&app, &t, "NestorW@contoso.com", "Nestor Wilke").await;
    let managers = [
        (megan.as_str(), "Megan Bowen"),
        (nestor.as_str(), "Nestor Wilke"),
    ];
    reads_back(&app, &t, &id, &expected, &managers).await;

    // Each PATCH Entra ID sends on a change of one attribute, read back after each.
    let steps: Vec<(Value, Change)> = vec![
        (
            json!([{ "op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Seattle" }]),
            Box::new(|e: &mut Value| e["addresses"][0]["locality"] = json!("Seattle")),
        ),
        (
            json!([{ "op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 425 555 0199" }]),
            Box::new(|e: &mut Value| e["phoneNumbers"][1]["value"] = json!("+1 425 555 0199")),
        ),
        (
            json!([{ "op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": nestor }]),
            Box::new({
                let nestor = nestor.clone();
                move |e: &mut Value| e[ENTERPRISE]["manager"] = json!({ "value": nestor })
            }),
        ),
        (
            json!([{ "op": "Replace", "path": "displayName", "value": "Alex W." }]),
            Box::new(|e: &mut Value| e["displayName"] = json!("Alex W.")),
        ),
        (
            json!([{ "op": "Replace", "path": "title", "value": "Marketing Lead" }]),
            Box::new(|e: &mut Value| e["title"] = json!("Marketing Lead")),
        ),
        (
            json!([{ "op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Brand" }]),
            Box::new(|e: &mut Value| e[ENTERPRISE]["department"] = json!("Brand")),
        ),
        (
            json!([{ "op": "Remove", "path": "phoneNumbers[type eq \"fax\"]" }]),
            Box::new(|e: &mut Value| {
                e["phoneNumbers"].as_array_mut().unwrap().remove(2);
            }),
        ),
        (
            json!([{ "op": "Remove", "path": "preferredLanguage" }]),
            Box::new(|e: &mut Value| {
                e.as_object_mut().unwrap().remove("preferredLanguage");
            }),
        ),
        (
            json!([{ "op": "Replace", "path": "active", "value": "False" }]),
            Box::new(|e: &mut Value| e["active"] = json!(false)),
        ),
    ];
    for (operations, change) in steps {
        let answered = patch(&app, &t, &id, operations.clone()).await;
        change(&mut expected);
        assert_eq!(as_written(&answered), expected, "{operations}");
        reads_back(&app, &t, &id, &expected, &managers).await;
    }

    // A PUT that changes the displayName alone changes it.
    let mut replaced = expected.clone();
    replaced["displayName"] = json!("Alex Wilber (Marketing)");
    let answered = expect_scim(
        scim(
            &app,
            Method::PUT,
            &format!("/Users/{id}"),
            &t.admin,
            Some(replaced.clone()),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(answered["displayName"], "Alex Wilber (Marketing)");
    reads_back(&app, &t, &id, &replaced, &managers).await;

    // The native face serves the same profile.
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/users/{id}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["email"], "AlexW@contoso.com");
    assert_eq!(native["phone"], "+1 425 555 0100");
    assert_eq!(native["company"], "Contoso");
    assert_eq!(native["countryCode"], "US");
    assert_eq!(native["role"], "member");
}

#[tokio::test]
async fn deleting_a_manager_leaves_its_reports_without_one() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let megan = manager(&app, &t, "MeganB@contoso.com", "Megan Bowen").await;
    let alex = post(&app, &t, &entra_user(&megan)).await;
    let id = alex["id"].as_str().unwrap();
    let response = scim(
        &app,
        Method::DELETE,
        &format!("/Users/{megan}"),
        &t.admin,
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    let read = get(&app, &t, id).await;
    assert!(read[ENTERPRISE].get("manager").is_none(), "{read}");
    assert_ne!(read["meta"]["version"], alex["meta"]["version"]);
    // A manager that is no user of the tenant (not provisioned yet, or another
    // tenant's) is kept as written, and nothing of another tenant shows.
    let other = app.tenant().await;
    let stranger = manager(&app, &other, "s@example.com", "Stranger").await;
    let mut body = entra_user(&stranger);
    body["userName"] = json!("someone@contoso.com");
    body["emails"][0]["value"] = json!("someone@contoso.com");
    let someone = post(&app, &t, &body).await;
    let reference = &someone[ENTERPRISE]["manager"];
    assert_eq!(*reference, json!({ "value": stranger }), "{someone}");
}

/// What Okta's default SCIM 2.0 mapping sends for a user, with every attribute of
/// the core schema filled.
fn okta_user() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": "isaac.brock@example.com",
        "name": {
            "formatted": "Mr. Isaac J Brock III",
            "givenName": "Isaac",
            "middleName": "J",
            "familyName": "Brock",
            "honorificPrefix": "Mr.",
            "honorificSuffix": "III",
        },
        "emails": [
            { "primary": true, "value": "isaac.brock@example.com", "type": "work" },
            { "value": "isaac@home.example", "type": "home", "display": "Home", "primary": false },
        ],
        "displayName": "Isaac Brock",
        "nickName": "Ike",
        "profileUrl": "https://login.example.com/isaac",
        "locale": "en-US",
        "title": "Vice President",
        "userType": "Employee",
        "preferredLanguage": "en",
        "timezone": "America/Los_Angeles",
        "active": true,
        "password": "t1meMa$heen and more",
        "phoneNumbers": [
            { "primary": true, "value": "555-555-8377", "type": "mobile" },
            { "value": "555-555-5555", "type": "work" },
        ],
        "addresses": [{
            "primary": true,
            "type": "work",
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
        }],
        "ims": [{ "value": "isaac.brock", "type": "xmpp" }],
        "photos": [{ "value": "https://photos.example.com/isaac.jpg", "type": "photo" }],
        "entitlements": [{ "value": "reports:read", "display": "Read reports" }],
        "roles": [{ "value": "Engineer", "display": "Engineer", "primary": true }],
        "x509Certificates": [{ "value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjEL" }],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
        },
    })
}

#[tokio::test]
async fn an_okta_provisioning_run_reads_back_exactly_what_it_wrote() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let sent = okta_user();
    let created = post(&app, &t, &sent).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut expected = sent.clone();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(as_written(&created), expected, "{created}");
    reads_back(&app, &t, &id, &expected, &[]).await;

    // Okta deactivates with a PATCH without a path.
    let answered = patch(
        &app,
        &t,
        &id,
        json!([{ "op": "replace", "value": { "active": false } }]),
    )
    .await;
    expected["active"] = json!(false);
    assert_eq!(as_written(&answered), expected);

    // And updates with PUTs of the whole user.
    let mut replaced = expected.clone();
    replaced["active"] = json!(true);
    replaced["title"] = json!("President");
    replaced["locale"] = json!("fr-CA");
    replaced["phoneNumbers"] =
        json!([{ "value": "555-555-0000", "type": "work", "primary": true }]);
    replaced["roles"] = json!([{ "value": "Engineer" }, { "value": "Admin" }]);
    replaced.as_object_mut().unwrap().remove("nickName");
    let answered = expect_scim(
        scim(
            &app,
            Method::PUT,
            &format!("/Users/{id}"),
            &t.admin,
            Some(replaced.clone()),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(as_written(&answered), replaced);
    reads_back(&app, &t, &id, &replaced, &[]).await;
    // An "admin" role value makes the user an admin of the directory.
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/users/{id}", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["role"], "admin");
    assert_eq!(native["phone"], "555-555-0000");
}

#[tokio::test]
async fn two_primary_values_of_one_attribute_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for (attribute, values) in [
        (
            "emails",
            json!([{ "value": "a@example.com", "primary": true },
                   { "value": "b@example.com", "primary": true }]),
        ),
        (
            "phoneNumbers",
            json!([{ "value": "1", "primary": true }, { "value": "2", "primary": "True" }]),
        ),
        (
            "addresses",
            json!([{ "country": "DE", "primary": true }, { "country": "FR", "primary": true }]),
        ),
    ] {
        let mut body = json!({ "schemas": [USER], "userName": "a@example.com" });
        body[attribute] = values;
        let refused = expect_error(
            scim(&app, Method::POST, "/Users", &t.admin, Some(body)).await,
            400,
            Some("invalidValue"),
        )
        .await;
        assert!(
            refused["detail"].as_str().unwrap().contains(attribute),
            "{refused}"
        );
    }
    let listed = expect_scim(scim(&app, Method::GET, "/Users", &t.admin, None).await, 200).await;
    assert_eq!(listed["totalResults"], 0);
}

#[tokio::test]
async fn profile_values_are_checked_as_the_rfc_defines_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for (attribute, value) in [
        ("profileUrl", json!("not a url")),
        ("timezone", json!("Mars time")),
        ("locale", json!("en US!")),
        ("emails", json!([{ "value": "not an email" }])),
        ("photos", json!([{ "value": "photo.jpg" }])),
        ("title", json!(5)),
        ("title", json!("x".repeat(257))),
    ] {
        let mut body = json!({ "schemas": [USER], "userName": "a@example.com" });
        body[attribute] = value;
        expect_error(
            scim(&app, Method::POST, "/Users", &t.admin, Some(body)).await,
            400,
            Some("invalidValue"),
        )
        .await;
    }
}

#[tokio::test]
async fn filters_find_users_by_profile_attributes() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    post(&app, &t, &okta_user()).await;
    let megan = manager(&app, &t, "MeganB@contoso.com", "Megan Bowen").await;
    post(&app, &t, &entra_user(&megan)).await;
    let found = |filter: &str| {
        let path = format!("/Users?filter={}", urlencode(filter));
        let app = &app;
        let t = &t;
        async move {
            let listed =
                expect_scim(scim(app, Method::GET, &path, &t.admin, None).await, 200).await;
            let mut names: Vec<String> = listed["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    for (filter, expected) in [
        (
            r#"emails.value eq "alexw@CONTOSO.com""#,
            vec!["AlexW@contoso.com"],
        ),
        (
            r#"displayName eq "isaac brock""#,
            vec!["isaac.brock@example.com"],
        ),
        (r#"displayName sw "Me""#, vec!["MeganB@contoso.com"]),
        (
            r#"title eq "vice president""#,
            vec!["isaac.brock@example.com"],
        ),
        (r#"title sw "Marketing""#, vec!["AlexW@contoso.com"]),
        (
            &format!(r#"{ENTERPRISE}:department eq "Marketing""#),
            vec!["AlexW@contoso.com"],
        ),
        (
            &format!(r#"{ENTERPRISE}:manager.value eq "{megan}""#),
            vec!["AlexW@contoso.com"],
        ),
        (
            r#"phoneNumbers.value eq "555-555-8377""#,
            vec!["isaac.brock@example.com"],
        ),
        (r#"phoneNumbers[type eq "FAX"]"#, vec!["AlexW@contoso.com"]),
        (r#"emails[type eq "home"]"#, vec!["isaac.brock@example.com"]),
        // Any of a user's emails, not only the one it signs in with.
        (
            r#"emails.value eq "Isaac@Home.example""#,
            vec!["isaac.brock@example.com"],
        ),
        (r#"emails sw "isaac@""#, vec!["isaac.brock@example.com"]),
        // A value filter's conditions hold for one and the same value: Isaac's work
        // email is not the one at home.example.
        (r#"emails[type eq "work" and value co "home"]"#, vec![]),
        (
            r#"emails[type eq "home" and value co "home"]"#,
            vec!["isaac.brock@example.com"],
        ),
        (
            r#"emails[type eq "work" and value co "home"] or userName sw "Alex""#,
            vec!["AlexW@contoso.com"],
        ),
        // `primary` as stored: only Isaac has an email that is not the primary one.
        (
            r#"emails[primary eq false]"#,
            vec!["isaac.brock@example.com"],
        ),
        (
            r#"emails.primary eq true"#,
            vec![
                "AlexW@contoso.com",
                "MeganB@contoso.com",
                "isaac.brock@example.com",
            ],
        ),
    ] {
        assert_eq!(found(filter).await, expected, "{filter}");
    }
    let sorted = expect_scim(
        scim(&app, Method::GET, "/Users?sortBy=title", &t.admin, None).await,
        200,
    )
    .await;
    let titles: Vec<&Value> = sorted["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["title"])
        .collect();
    assert_eq!(
        titles,
        [
            &json!("Marketing Assistant"),
            &json!("Vice President"),
            &Value::Null
        ]
    );
}

#[tokio::test]
async fn the_schema_declares_every_profile_attribute_as_the_rfc_does() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = expect_scim(
        scim(
            &app,
            Method::GET,
            &format!("/Schemas/{USER}"),
            &t.admin,
            None,
        )
        .await,
        200,
    )
    .await;
    let attribute = |schema: &Value, name: &str| -> Value {
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not declared"))
            .clone()
    };
    let sub = |parent: &Value, name: &str| -> Value {
        parent["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not declared"))
            .clone()
    };
    for name in [
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        let declared = attribute(&user, name);
        for characteristic in [
            "type",
            "multiValued",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
        ] {
            assert!(
                declared.get(characteristic).is_some(),
                "{name}.{characteristic}"
            );
        }
    }
    assert_eq!(attribute(&user, "profileUrl")["type"], "reference");
    let phones = attribute(&user, "phoneNumbers");
    assert_eq!(phones["multiValued"], true);
    assert_eq!(
        sub(&phones, "type")["canonicalValues"],
        json!(["work", "home", "mobile", "fax", "pager", "other"])
    );
    assert_eq!(sub(&phones, "primary")["type"], "boolean");
    let certificate = sub(&attribute(&user, "x509Certificates"), "value");
    assert_eq!(certificate["type"], "binary");
    assert_eq!(certificate["caseExact"], true);
    let name = attribute(&user, "name");
    for part in [
        "formatted",
        "familyName",
        "givenName",
        "middleName",
        "honorificPrefix",
        "honorificSuffix",
    ] {
        sub(&name, part);
    }
    let enterprise = expect_scim(
        scim(
            &app,
            Method::GET,
            &format!("/Schemas/{ENTERPRISE}"),
            &t.admin,
            None,
        )
        .await,
        200,
    )
    .await;
    for name in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ] {
        assert_eq!(attribute(&enterprise, name)["type"], "string");
    }
    let manager = attribute(&enterprise, "manager");
    assert_eq!(sub(&manager, "displayName")["mutability"], "readOnly");
    assert_eq!(sub(&manager, "$ref")["referenceTypes"], json!(["User"]));
}
