//! Every reply in its face's own format: one table walks every face through every
//! class of refusal (unknown path, 405, 413, 414, 415, 431, malformed ids, malformed
//! and repeated query parameters, a handler that panics, a body of the wrong JSON
//! type or nested too deep) and checks the status, the Content-Type and the body's
//! shape.

use std::collections::BTreeMap;

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_json};

/// How a face's error documents look.
#[derive(Clone, Copy)]
enum Shape {
    /// RFC 9457 problem+json with a numeric `status`.
    Problem,
    /// The SCIM error schema, `status` as a string.
    Scim,
    /// `{"status": <n>, "message"}`.
    Anodot,
    /// `{"error": {"code": <n>, "message"}}`.
    Dynatrace,
    /// A JSON:API error document.
    JsonApi,
    /// `{"Status": "Error", "Message", "Meta": null}`.
    Tyk,
    /// `{"error", "error_description"}`.
    OAuth,
}

impl Shape {
    fn content_type(self) -> &'static str {
        match self {
            Shape::Problem => "application/problem+json",
            Shape::Scim => "application/scim+json",
            Shape::JsonApi => "application/vnd.api+json",
            _ => "application/json",
        }
    }

    /// What is wrong with `body` as this face's error with `status`, if anything.
    fn check(self, status: u16, body: &Value) -> Result<(), String> {
        let ok = match self {
            Shape::Problem => {
                body["status"] == status && body["title"].is_string() && body["detail"].is_string()
            }
            Shape::Scim => {
                body["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
                    && string_status(&body["status"]) == Some(status)
                    && body["detail"].is_string()
            }
            Shape::Anodot => body["status"] == status && body["message"].is_string(),
            Shape::Dynatrace => {
                body["error"]["code"] == status && body["error"]["message"].is_string()
            }
            Shape::JsonApi => {
                string_status(&body["errors"][0]["status"]) == Some(status)
                    && body["errors"][0]["detail"].is_string()
            }
            Shape::Tyk => {
                body["Status"] == "Error" && body["Message"].is_string() && body["Meta"].is_null()
            }
            Shape::OAuth => body["error"].is_string() && body["error_description"].is_string(),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("not this face's error shape: {body}"))
        }
    }
}

/// A status written as a JSON string, as SCIM and JSON:API write it.
fn string_status(value: &Value) -> Option<u16> {
    value.as_str()?.parse().ok()
}

/// A rough test that a message names no Rust type (the unit tests hold the full list).
fn names_rust_type(body: &Value) -> bool {
    let text = body.to_string();
    [
        "struct ", "enum ", "u32", "u64", "i64", "usize", "sequence", "Vec<", "String",
    ]
    .iter()
    .any(|word| text.contains(word))
}

/// One face as the table walks it.
struct Face {
    name: &'static str,
    shape: Shape,
    /// How the face's key is sent.
    bearer: bool,
    unknown_path: String,
    /// A path and a method it does not take, and a method it does.
    wrong_method: (Method, String, &'static str),
    /// A path that takes a body, and the content type of that body; `None` for a face
    /// none of whose operations takes a body (SixEye).
    body_path: Option<(String, &'static str)>,
    malformed_ids: Vec<String>,
    /// A readable path with query parameters, for the query classes.
    query_path: String,
    /// A request repeating a parameter, and the status the face's rule answers.
    repeated: (Method, String, Option<&'static str>, u16),
}

struct Run<'a> {
    app: &'a TestApp,
    key: String,
    tried: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

impl Run<'_> {
    fn request(&self, face: &Face, method: Method, path: &str) -> RequestBuilder {
        let builder = self.app.client.request(method, self.app.url(path));
        if face.bearer {
            builder.bearer_auth(&self.key)
        } else {
            builder.header("authorization", &self.key)
        }
    }

    /// Sends `request` and checks it is answered `status` in `face`'s error format.
    async fn expect(
        &mut self,
        class: &'static str,
        face: &Face,
        status: u16,
        request: RequestBuilder,
    ) {
        *self.tried.entry(class).or_default() += 1;
        if let Err(problem) = answer(face, status, request).await {
            self.failures
                .push(format!("{} / {class}: {problem}", face.name));
        }
    }
}

async fn answer(face: &Face, status: u16, request: RequestBuilder) -> Result<(), String> {
    let response = request.send().await.map_err(|e| format!("not sent: {e}"))?;
    let actual = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    if actual != status {
        return Err(format!("status {actual}, not {status}: {text}"));
    }
    if content_type != face.shape.content_type() {
        return Err(format!("content type {content_type:?}: {text}"));
    }
    let body: Value = serde_json::from_str(&text).map_err(|_| format!("not JSON: {text:?}"))?;
    face.shape.check(status, &body)?;
    if names_rust_type(&body) {
        return Err(format!("names a Rust type: {body}"));
    }
    if status == 405 && headers.get("allow").is_none() {
        return Err("405 without Allow".to_owned());
    }
    Ok(())
}

fn faces(tenant: &str) -> Vec<Face> {
    let dt = format!("/iam/v1/accounts/{tenant}");
    let v1 = format!("/v1/tenants/{tenant}");
    vec![
        Face {
            name: "native",
            shape: Shape::Problem,
            bearer: true,
            unknown_path: "/v1/nothing/here".into(),
            wrong_method: (Method::DELETE, format!("{v1}/users"), "GET"),
            body_path: Some((format!("{v1}/users"), "application/json")),
            malformed_ids: vec![
                format!("{v1}/users/%FF"),
                format!("{v1}/users/%ZZ"),
                format!("{v1}/groups/%C3/members"),
            ],
            query_path: format!("{v1}/users"),
            repeated: (
                Method::GET,
                format!("{v1}/users?limit=1&limit=2"),
                None,
                400,
            ),
        },
        Face {
            name: "scim",
            shape: Shape::Scim,
            bearer: true,
            unknown_path: "/scim/v2/Nothing".into(),
            wrong_method: (Method::DELETE, "/scim/v2/Users".into(), "GET"),
            body_path: Some(("/scim/v2/Users".into(), "application/scim+json")),
            malformed_ids: vec!["/scim/v2/Users/%FF".into(), "/scim/v2/Groups/%E2%82".into()],
            query_path: "/scim/v2/Users".into(),
            repeated: (
                Method::GET,
                "/scim/v2/Users?count=1&count=2".into(),
                None,
                400,
            ),
        },
        Face {
            name: "anodot",
            shape: Shape::Anodot,
            bearer: true,
            unknown_path: "/api/v2/nothing".into(),
            wrong_method: (Method::DELETE, "/api/v2/users".into(), "GET"),
            body_path: Some(("/api/v2/users".into(), "application/json")),
            malformed_ids: vec!["/api/v2/users/%FF".into()],
            query_path: "/api/v2/users".into(),
            repeated: (
                Method::POST,
                "/api/v2/access-token?responseformat=json&responseformat=text".into(),
                Some("application/json"),
                400,
            ),
        },
        Face {
            name: "dynatrace",
            shape: Shape::Dynatrace,
            bearer: true,
            unknown_path: format!("{dt}/nothing"),
            wrong_method: (Method::PATCH, format!("{dt}/users"), "GET"),
            body_path: Some((format!("{dt}/users"), "application/json")),
            malformed_ids: vec![format!("{dt}/groups/%FF/users"), format!("{dt}/users/%ZZ")],
            query_path: format!("{dt}/users/groups"),
            // Last wins: pageSize=1 reads one user of two.
            repeated: (
                Method::GET,
                format!("{dt}/users/groups?pageSize=5&pageSize=1"),
                None,
                200,
            ),
        },
        Face {
            name: "sixeye",
            shape: Shape::JsonApi,
            bearer: true,
            unknown_path: "/users/a/b".into(),
            wrong_method: (Method::POST, "/users".into(), "GET"),
            body_path: None,
            malformed_ids: vec!["/users/%FF".into(), "/users/%".into()],
            query_path: "/users".into(),
            // SixEye reads no query parameters: repeating one changes nothing.
            repeated: (Method::GET, "/users?page=1&page=2".into(), None, 200),
        },
        Face {
            name: "tyk",
            shape: Shape::Tyk,
            bearer: false,
            unknown_path: "/api/nothing".into(),
            wrong_method: (Method::PATCH, "/api/users".into(), "GET"),
            body_path: Some(("/api/users".into(), "application/json")),
            malformed_ids: vec!["/api/users/%FF".into(), "/api/usergroups/%ZZ".into()],
            query_path: "/api/users".into(),
            // The first wins, as in the Dashboard: `p=x` alone would be 400.
            repeated: (Method::GET, "/api/users?p=1&p=x".into(), None, 200),
        },
        Face {
            name: "oauth",
            shape: Shape::OAuth,
            bearer: true,
            unknown_path: "/oauth2/nothing".into(),
            wrong_method: (Method::GET, "/oauth2/token".into(), "POST"),
            body_path: Some((
                "/sso/oauth2/token".into(),
                "application/x-www-form-urlencoded",
            )),
            malformed_ids: vec!["/oauth2/%FF".into()],
            query_path: "/oauth2/token".into(),
            repeated: (
                Method::POST,
                "/oauth2/token".into(),
                Some("application/x-www-form-urlencoded"),
                400,
            ),
        },
    ]
}

#[tokio::test]
async fn every_face_answers_every_refusal_in_its_own_format() {
    let app = TestApp::spawn_with(|s| s.http.max_body_bytes = 4096).await;
    let t = app.tenant().await;
    app.user(&t, "one@acme.com").await;
    app.user(&t, "two@acme.com").await;
    let mut run = Run {
        app: &app,
        key: t.admin.clone(),
        tried: BTreeMap::new(),
        failures: Vec::new(),
    };
    for face in faces(&t.id) {
        let r = &mut run;
        r.expect(
            "unknown path",
            &face,
            404,
            r.request(&face, Method::GET, &face.unknown_path),
        )
        .await;
        let (method, path, allowed) = &face.wrong_method;
        r.expect("405", &face, 405, r.request(&face, method.clone(), path))
            .await;
        let allow = r
            .request(&face, method.clone(), path)
            .send()
            .await
            .ok()
            .and_then(|response| response.headers().get("allow").cloned());
        if !allow.is_some_and(|a| a.to_str().unwrap_or("").contains(allowed)) {
            r.failures
                .push(format!("{}: Allow does not name {allowed}", face.name));
        }
        let long = format!("{}?q={}", face.query_path, "a".repeat(9 * 1024));
        r.expect("414", &face, 414, r.request(&face, Method::GET, &long))
            .await;
        let filler = "f".repeat(20 * 1024);
        r.expect(
            "431",
            &face,
            431,
            r.request(&face, Method::GET, &face.query_path)
                .header("x-filler", filler),
        )
        .await;
        if let Some((path, content_type)) = &face.body_path {
            let big = if content_type.contains("json") {
                format!("{{\"email\": \"{}\"}}", "a".repeat(8 * 1024))
            } else {
                format!(
                    "grant_type=client_credentials&scope={}",
                    "a".repeat(8 * 1024)
                )
            };
            r.expect(
                "413",
                &face,
                413,
                r.request(&face, Method::POST, path)
                    .header("content-type", *content_type)
                    .body(big),
            )
            .await;
            let unsupported = if content_type.contains("json") {
                "text/plain"
            } else {
                "application/json"
            };
            r.expect(
                "415",
                &face,
                415,
                r.request(&face, Method::POST, path)
                    .header("content-type", unsupported)
                    .body("{}"),
            )
            .await;
        }
        for path in &face.malformed_ids {
            r.expect(
                "malformed id",
                &face,
                404,
                r.request(&face, Method::GET, path),
            )
            .await;
        }
        for query in ["x=%FF", "x=%ZZ", "%C3=1", "x=%"] {
            let path = format!("{}?{query}", face.query_path);
            r.expect(
                "malformed query",
                &face,
                400,
                r.request(&face, Method::GET, &path),
            )
            .await;
        }
        let (method, path, content_type, status) = &face.repeated;
        let mut repeated = r.request(&face, method.clone(), path);
        if let Some(content_type) = content_type {
            let body = if content_type.contains("json") {
                json!({"refreshToken": "nothing"}).to_string()
            } else {
                "grant_type=client_credentials&grant_type=client_credentials".to_owned()
            };
            repeated = repeated.header("content-type", *content_type).body(body);
        }
        if *status == 200 {
            *r.tried.entry("repeated parameter").or_default() += 1;
            let response = repeated.send().await.unwrap();
            if response.status() != 200 {
                r.failures.push(format!(
                    "{} / repeated parameter: {}",
                    face.name,
                    response.text().await.unwrap_or_default()
                ));
            }
        } else {
            r.expect("repeated parameter", &face, *status, repeated)
                .await;
        }
        r.expect(
            "panic",
            &face,
            500,
            r.request(&face, Method::GET, &face.query_path)
                .header("x-roster-panic", "1"),
        )
        .await;
    }

    // OAuth names the repeated form parameter.
    let repeated = app
        .client
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=a&client_secret=b&scope=x&scope=y")
        .send()
        .await
        .unwrap();
    let body = expect_json(repeated, 400).await;
    assert_eq!(
        body["error_description"], "scope is given more than once",
        "{body}"
    );

    // Dynatrace's repeated pageSize: the last one counts.
    let page = expect_json(
        app.get(
            &format!(
                "/iam/v1/accounts/{}/users/groups?pageSize=5&pageSize=1",
                t.id
            ),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page.as_array().map(Vec::len), Some(1), "{page}");

    for (class, count) in &run.tried {
        println!("{class}: {count} requests");
    }
    assert!(run.failures.is_empty(), "{}", run.failures.join("\n"));
    // Every face through every class (SixEye has no body to refuse).
    let expected: &[(&str, usize)] = &[
        ("unknown path", 7),
        ("405", 7),
        ("414", 7),
        ("431", 7),
        ("413", 6),
        ("415", 6),
        ("malformed id", 13),
        ("malformed query", 28),
        ("repeated parameter", 7),
        ("panic", 7),
    ];
    for (class, count) in expected {
        assert_eq!(run.tried.get(class), Some(count), "{class}");
    }
    // The server is still up after seven panics.
    assert_eq!(app.get("/healthz", "").await.status(), 200);
}

/// Arrays sent where an object is expected are refused naming the object, on every
/// face that takes an object, and nothing is written.
#[tokio::test]
async fn an_array_where_an_object_is_expected_is_refused_on_every_face() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let dt = format!("/iam/v1/accounts/{}", t.id);
    let array = json!(["x@acme.com", "First", "Last", "admin"]);
    for (path, bearer, expect) in [
        (
            format!("/v1/tenants/{}/users", t.id),
            true,
            "application/problem+json",
        ),
        ("/api/v2/users".to_owned(), true, "application/json"),
        (format!("{dt}/users"), true, "application/json"),
        ("/api/users".to_owned(), false, "application/json"),
        ("/scim/v2/Users".to_owned(), true, "application/scim+json"),
    ] {
        let builder = app.client.post(app.url(&path)).json(&array);
        let builder = if bearer {
            builder.bearer_auth(&t.admin)
        } else {
            builder.header("authorization", &t.admin)
        };
        let response = builder.send().await.unwrap();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = expect_json(response, 400).await;
        assert_eq!(content_type, expect, "{path}: {body}");
        assert!(!names_rust_type(&body), "{path}: {body}");
        if !path.starts_with("/scim") {
            assert!(
                body.to_string().contains("expected a JSON object"),
                "{path}: {body}"
            );
        }
    }
    // Nested: Dynatrace's list of groups holds objects.
    let body = expect_json(
        app.post(
            &format!("{dt}/groups"),
            &t.admin,
            &json!([["team", "about"]]),
        )
        .await,
        400,
    )
    .await;
    assert!(
        body.to_string().contains("expected a JSON object"),
        "{body}"
    );
    assert!(app.all_users(&t).await.is_empty());
    let groups = expect_json(app.get(&format!("{dt}/groups"), &t.admin).await, 200).await;
    assert_eq!(groups["count"], 0, "{groups}");
}

/// A body nested 10,000 levels deep is a clean 400 in the face's format, and the
/// server carries on.
#[tokio::test]
async fn a_body_nested_ten_thousand_deep_is_a_clean_400_on_every_face() {
    let app = TestApp::spawn_with(|s| s.http.max_body_bytes = 64 * 1024).await;
    let t = app.tenant().await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (path, bearer) in [
        (format!("/v1/tenants/{}/users", t.id), true),
        ("/api/v2/users".to_owned(), true),
        (format!("/iam/v1/accounts/{}/groups", t.id), true),
        ("/api/users".to_owned(), false),
        ("/scim/v2/Users".to_owned(), true),
        ("/scim/v2/Bulk".to_owned(), true),
    ] {
        let builder = app
            .client
            .post(app.url(&path))
            .header("content-type", "application/json")
            .body(deep.clone());
        let builder = if bearer {
            builder.bearer_auth(&t.admin)
        } else {
            builder.header("authorization", &t.admin)
        };
        let body = expect_json(builder.send().await.unwrap(), 400).await;
        assert!(body.to_string().contains("64"), "{path}: {body}");
    }
    assert_eq!(app.get("/healthz", "").await.status(), 200);
}
