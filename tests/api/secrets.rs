//! Secrets never appear in replies other than the one that creates them, nor in logs.

use reqwest::Client;
use serde_json::json;

use crate::helpers::{ServerProcess, TestDatabase, expect_json};

#[tokio::test]
async fn without_a_bootstrap_token_the_server_prints_a_generated_one_once() {
    let database = TestDatabase::create().await;
    let mut first = ServerProcess::start(&database.url(), &[]);
    let token = first
        .stdout
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("ro_"))
        .expect("the generated token is printed")
        .to_owned();
    let client = Client::new();
    let tenants = client
        .get(first.url("/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(tenants.status(), 200);
    assert!(!first.stderr().contains(&token), "the token is not logged");
    assert!(
        first.terminate().success(),
        "SIGTERM stops the server cleanly"
    );

    let second = ServerProcess::start(&database.url(), &[]);
    assert!(
        !second.stdout.contains("ro_"),
        "printed once only: {}",
        second.stdout
    );
    let again = client
        .get(second.url("/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "the generated token still works");
}

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let database = TestDatabase::create().await;
    let bootstrap = "bootstrap-secret-never-logged-4711";
    let server = ServerProcess::start(
        &database.url(),
        &[
            ("ROSTER_BOOTSTRAP_TOKEN", bootstrap),
            ("ROSTER_LOG_LEVEL", "trace"),
        ],
    );
    let client = Client::new();
    let tenant = expect_json(
        client
            .post(server.url("/v1/tenants"))
            .bearer_auth(bootstrap)
            .json(&json!({"name": "T"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let tid = tenant["id"].as_str().unwrap();
    let key = expect_json(
        client
            .post(server.url(&format!("/v1/tenants/{tid}/api-keys")))
            .bearer_auth(bootstrap)
            .json(&json!({"name": "k", "role": "admin"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let secret = key["secret"].as_str().unwrap();
    let password = "never-logged-password-123";
    let user = client
        .post(server.url(&format!("/v1/tenants/{tid}/users")))
        .bearer_auth(secret)
        .json(&json!({"email": "a@b.co", "firstName": "a", "lastName": "b", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 201);
    let user_text = user.text().await.unwrap();
    assert!(!user_text.contains(password) && !user_text.contains("$argon2"));
    let refused = client
        .get(server.url(&format!("/v1/tenants/{tid}/users")))
        .bearer_auth("wrong-secret-xyz")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let log = server.stderr();
    assert!(log.contains("/v1/tenants"), "requests are logged: {log}");
    for secret in [bootstrap, secret, password, "wrong-secret-xyz", "$argon2"] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
}

#[tokio::test]
async fn two_factor_secrets_never_reach_the_log() {
    use crate::two_factor::{current_step, totp};
    let database = TestDatabase::create().await;
    let operator = "two-factor-log-operator-0001";
    let server = ServerProcess::start(
        &database.url(),
        &[
            ("ROSTER_BOOTSTRAP_TOKEN", operator),
            ("ROSTER_LOG_LEVEL", "trace"),
        ],
    );
    let client = Client::new();
    let post = |path: String, token: Option<String>, body: serde_json::Value| {
        let mut request = client.post(server.url(&path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let tenant = expect_json(
        post(
            "/v1/tenants".into(),
            Some(operator.into()),
            json!({"name": "T"}),
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    let tid = tenant["id"].as_str().unwrap();
    let password = "two-factor-log-password-42";
    let body = json!({"email": "t@f.co", "firstName": "t", "lastName": "f", "password": password});
    expect_json(
        post(
            format!("/v1/tenants/{tid}/users"),
            Some(operator.into()),
            body,
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    let login = format!("/v1/tenants/{tid}/auth/login");
    let credentials = json!({"email": "t@f.co", "password": password});
    let signed_in = expect_json(post(login.clone(), None, credentials).await.unwrap(), 200).await;
    let token = signed_in["accessToken"].as_str().unwrap().to_owned();
    let base = format!("/v1/tenants/{tid}/auth/two-factor");
    let started = expect_json(
        post(
            format!("{base}/totp"),
            Some(token.clone()),
            json!({"password": password}),
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    let secret = started["secret"].as_str().unwrap().to_owned();
    let confirmed = expect_json(
        post(
            format!("{base}/totp/confirm"),
            Some(token.clone()),
            json!({"code": totp(&secret, current_step())}),
        )
        .await
        .unwrap(),
        200,
    )
    .await;
    let recovery = confirmed["recoveryCodes"][0].as_str().unwrap().to_owned();
    let with_code = json!({"email": "t@f.co", "password": password, "twoFactorCode": recovery});
    expect_json(post(login, None, with_code).await.unwrap(), 200).await;

    let log = server.stderr();
    assert!(
        log.contains("/auth/two-factor/totp/confirm"),
        "requests are logged"
    );
    for secret in [&secret, &recovery, &token, &password.to_owned()] {
        assert!(
            !log.contains(secret.as_str()),
            "{secret} leaked into the log"
        );
    }
}
