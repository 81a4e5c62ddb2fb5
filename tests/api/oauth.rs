use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_json};

async fn form(
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let body = serde_urlencoded::to_string(fields).unwrap();
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

/// Creates an admin key and answers (id, secret).
async fn client(app: &TestApp, tenant: &str, admin: &str) -> (String, String) {
    let key = expect_json(
        app.post(
            &format!("/v1/tenants/{tenant}/api-keys"),
            admin,
            &json!({"name": "oauth", "role": "admin"}),
        )
        .await,
        201,
    )
    .await;
    (
        key["id"].as_str().unwrap().to_owned(),
        key["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn client_credentials_give_a_bearer_token_that_acts_as_the_key() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (id, secret) = client(&app, &t.id, &t.admin).await;
    for path in ["/oauth2/token", "/sso/oauth2/token"] {
        let (status, headers, body) = form(
            &app,
            path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "account-idm-read"),
            ],
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "account-idm-read");
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(
            app.get(&format!("/v1/tenants/{}/users", t.id), token)
                .await
                .status(),
            200
        );
    }
    let (status, _, body) = form(
        &app,
        "/oauth2/token",
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(status, 200, "HTTP Basic works too: {body}");
}

#[tokio::test]
async fn bad_clients_and_requests_get_oauth_errors() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (id, secret) = client(&app, &t.id, &t.admin).await;
    let (other_id, _) = client(&app, &t.id, &t.admin).await;
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &other_id),
                ("client_secret", &secret),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", &id)],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("client_id", &id), ("client_secret", &secret)],
            400,
            "invalid_request",
        ),
    ];
    for (fields, status, error) in cases {
        let (actual, _, body) = form(&app, "/oauth2/token", &fields, None).await;
        assert_eq!(
            (actual, body["error"].as_str()),
            (status, Some(error)),
            "{fields:?}"
        );
    }
    let json_body = app
        .client
        .post(app.url("/oauth2/token"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    // Not a form: 415, still in RFC 6749's error shape.
    assert_eq!(json_body.status(), 415);
    assert_eq!(
        json_body.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (id, secret) = client(&app, &t.id, &t.admin).await;
    let (_, _, issued) = form(
        &app,
        "/oauth2/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    let token = issued["access_token"].as_str().unwrap();
    let users = format!("/v1/tenants/{}/users", t.id);
    assert_eq!(app.get(&users, token).await.status(), 200);

    // Another client cannot revoke it; unknown tokens are fine (RFC 7009).
    let (other_id, other_secret) = client(&app, &t.id, &t.admin).await;
    let (status, _, _) = form(
        &app,
        "/oauth2/revoke",
        &[
            ("token", token),
            ("client_id", &other_id),
            ("client_secret", &other_secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&users, token).await.status(), 200);
    let (status, _, _) = form(
        &app,
        "/oauth2/revoke",
        &[
            ("token", "rt_unknown"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body) = form(
        &app,
        "/oauth2/revoke",
        &[
            ("token", token),
            ("client_id", &id),
            ("client_secret", "wrong"),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    let (status, _, _) = form(
        &app,
        "/oauth2/revoke",
        &[("token", token)],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&users, token).await.status(), 401);
}

/// Creates a key of `role` and answers (id, secret).
async fn client_of_role(app: &TestApp, tenant: &str, admin: &str, role: &str) -> (String, String) {
    let key = expect_json(
        app.post(
            &format!("/v1/tenants/{tenant}/api-keys"),
            admin,
            &json!({"name": format!("oauth {role}"), "role": role}),
        )
        .await,
        201,
    )
    .await;
    (
        key["id"].as_str().unwrap().to_owned(),
        key["secret"].as_str().unwrap().to_owned(),
    )
}

/// Asks for a token with `scope` (absent when `None`): (status, body).
async fn token_with_scope(
    app: &TestApp,
    (id, secret): &(String, String),
    scope: Option<&str>,
) -> (u16, Value) {
    let mut fields = vec![
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    if let Some(scope) = scope {
        fields.push(("scope", scope));
    }
    let (status, _, body) = form(app, "/oauth2/token", &fields, None).await;
    (status, body)
}

#[tokio::test]
async fn an_unknown_scope_is_invalid_scope() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let admin = client_of_role(&app, &t.id, &t.admin, "admin").await;
    for scope in ["admin", "read bogus", "READ", "openid profile"] {
        let (status, body) = token_with_scope(&app, &admin, Some(scope)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope")),
            "{scope}: {body}"
        );
        assert!(body["access_token"].is_null());
    }
}

#[tokio::test]
async fn the_token_reply_names_only_the_scopes_granted() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let admin = client_of_role(&app, &t.id, &t.admin, "admin").await;
    let reader = client_of_role(&app, &t.id, &t.admin, "reader").await;
    let cases = [
        (&admin, None, "read write"),
        (&admin, Some(""), "read write"),
        (&admin, Some("read"), "read"),
        (
            &admin,
            Some("account-idm-read account-idm-write"),
            "account-idm-read account-idm-write",
        ),
        (&reader, None, "read"),
        (&reader, Some("read write"), "read"),
        (
            &reader,
            Some("account-idm-read account-idm-write"),
            "account-idm-read",
        ),
    ];
    for (client, scope, granted) in cases {
        let (status, body) = token_with_scope(&app, client, scope).await;
        assert_eq!(status, 200, "{scope:?}: {body}");
        assert_eq!(body["scope"], granted, "{scope:?}");
    }
    // A reader key is never granted a write scope, even alone.
    for scope in ["write", "account-idm-write"] {
        let (status, body) = token_with_scope(&app, &reader, Some(scope)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope")),
            "{body}"
        );
    }
    // And its read-scoped token cannot write.
    let (_, body) = token_with_scope(&app, &reader, Some("read write")).await;
    let token = body["access_token"].as_str().unwrap();
    let created = app
        .post(
            &format!("/v1/tenants/{}/groups", t.id),
            token,
            &json!({"name": "nope"}),
        )
        .await;
    assert_eq!(created.status(), 403);
}

#[tokio::test]
async fn a_read_scoped_token_of_an_admin_key_cannot_write_on_any_face() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let admin = client_of_role(&app, &t.id, &t.admin, "admin").await;
    let (status, body) = token_with_scope(&app, &admin, Some("account-idm-read")).await;
    assert_eq!(status, 200, "{body}");
    let read_only = body["access_token"].as_str().unwrap().to_owned();
    let (_, body) = token_with_scope(&app, &admin, Some("write")).await;
    let writer = body["access_token"].as_str().unwrap().to_owned();

    let native = format!("/v1/tenants/{}/users", t.id);
    let dynatrace = format!("/iam/v1/accounts/{}/users", t.id);
    let scim_user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                           "userName": "scim@acme.com"});
    // Reads work on every face.
    for path in [
        native.as_str(),
        "/scim/v2/Users",
        "/api/v2/users",
        dynatrace.as_str(),
        "/users",
    ] {
        assert_eq!(app.get(path, &read_only).await.status(), 200, "{path}");
    }
    let tyk_list = app
        .client
        .get(app.url("/api/users"))
        .header("authorization", &read_only)
        .send()
        .await
        .unwrap();
    assert_eq!(tyk_list.status(), 200, "Tyk read");
    // Writes are refused on every face.
    let writes = [
        (
            native.as_str(),
            json!({"email": "n@acme.com", "firstName": "N", "lastName": "N"}),
        ),
        ("/scim/v2/Users", scim_user.clone()),
        ("/api/v2/users", json!({"emails": ["a@acme.com"]})),
        (dynatrace.as_str(), json!({"email": "d@acme.com"})),
    ];
    for (path, body) in &writes {
        assert_eq!(
            app.post(path, &read_only, body).await.status(),
            403,
            "{path}"
        );
    }
    let tyk_write = app
        .client
        .post(app.url("/api/users"))
        .header("authorization", &read_only)
        .json(&json!({"first_name": "T", "last_name": "Y", "email_address": "t@acme.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tyk_write.status(), 403, "Tyk write");
    assert!(app.all_users(&t).await.is_empty());
    // The same key's write-scoped token writes.
    for (path, body) in &writes {
        let status = app.post(path, &writer, body).await.status().as_u16();
        assert!((200..300).contains(&status), "{path}: {status}");
    }
}
