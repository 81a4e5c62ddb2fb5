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
