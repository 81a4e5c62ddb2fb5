//! Two-factor sign-in: TOTP enrolment, codes computed here by hand from RFC 6238,
//! recovery codes, turning it off, and what the log keeps.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, expect_json, expect_problem, problem_fields};
use crate::sign_in::{PASSWORD, login, user_with_password};

/// RFC 6238 with HMAC-SHA1, six digits, 30-second steps: the code of `step`.
pub fn totp(secret_base32: &str, step: u64) -> String {
    let key = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret_base32)
        .expect("a base32 secret");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

pub fn current_step() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

async fn token_of(app: &TestApp, tenant: &str, email: &str) -> String {
    expect_json(login(app, tenant, email, PASSWORD).await, 200).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn login_with_code(
    app: &TestApp,
    tenant: &str,
    email: &str,
    code: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/tenants/{tenant}/auth/login")))
        .json(&json!({"email": email, "password": PASSWORD, "twoFactorCode": code}))
        .send()
        .await
        .unwrap()
}

/// A user with two-factor sign-in on: its id, TOTP secret, recovery codes, the step
/// whose code confirmed the enrolment, and a token from before.
struct Enrolled {
    id: String,
    secret: String,
    recovery_codes: Vec<String>,
    confirmed_step: u64,
    token: String,
}

async fn enrolled_user(app: &TestApp, t: &TestTenant, email: &str) -> Enrolled {
    let user = user_with_password(app, t, email, "member").await;
    let token = token_of(app, &t.id, email).await;
    let base = format!("/v1/tenants/{}/auth/two-factor", t.id);
    let started = expect_json(
        app.post(
            &format!("{base}/totp"),
            &token,
            &json!({"password": PASSWORD}),
        )
        .await,
        201,
    )
    .await;
    let secret = started["secret"].as_str().unwrap().to_owned();
    let step = current_step();
    let confirmed = expect_json(
        app.post(
            &format!("{base}/totp/confirm"),
            &token,
            &json!({"code": totp(&secret, step)}),
        )
        .await,
        200,
    )
    .await;
    Enrolled {
        id: user["id"].as_str().unwrap().to_owned(),
        secret,
        recovery_codes: confirmed["recoveryCodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect(),
        confirmed_step: step,
        token,
    }
}

#[tokio::test]
async fn a_user_enrols_an_authenticator_and_then_signs_in_with_its_codes() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = user_with_password(&app, &t, "ada@acme.com", "member").await;
    assert_eq!(user["twoFactorEnabled"], false);
    let token = token_of(&app, &t.id, "ada@acme.com").await;
    let base = format!("/v1/tenants/{}/auth/two-factor", t.id);

    // Enrolment needs the password, and answers what an authenticator app reads.
    let wrong = expect_problem(
        app.post(
            &format!("{base}/totp"),
            &token,
            &json!({"password": "not it"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(problem_fields(&wrong), ["password"]);
    let response = app
        .post(
            &format!("{base}/totp"),
            &token,
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let started = expect_json(response, 201).await;
    let secret = started["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert_eq!(
        started["otpauthUri"],
        format!("otpauth://totp/Acme:ada%40acme.com?secret={secret}&issuer=Acme")
    );
    assert!(
        started["qrCode"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    assert_eq!(
        (
            &started["algorithm"],
            &started["digits"],
            &started["period"]
        ),
        (&json!("SHA1"), &json!(6), &json!(30))
    );
    let pending = expect_json(app.get(&base, &token).await, 200).await;
    assert_eq!(
        pending,
        json!({"enabled": false, "pending": true, "recoveryCodesLeft": 0})
    );
    // Until confirmed, signing in needs no code.
    token_of(&app, &t.id, "ada@acme.com").await;

    // A wrong first code confirms nothing; the right one turns it on.
    let step = current_step();
    let wrong_code = format!(
        "{:06}",
        (totp(secret, step).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    expect_problem(
        app.post(
            &format!("{base}/totp/confirm"),
            &token,
            &json!({"code": wrong_code}),
        )
        .await,
        400,
    )
    .await;
    let confirmed = expect_json(
        app.post(
            &format!("{base}/totp/confirm"),
            &token,
            &json!({"code": totp(secret, step)}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(confirmed["recoveryCodes"].as_array().unwrap().len(), 10);
    let status = expect_json(app.get(&base, &token).await, 200).await;
    assert_eq!(
        status,
        json!({"enabled": true, "pending": false, "recoveryCodesLeft": 10})
    );

    // twoFactorEnabled shows on the native and the SixEye faces.
    let id = user["id"].as_str().unwrap();
    let response = app
        .get(&format!("/v1/tenants/{}/users/{id}", t.id), &t.admin)
        .await;
    assert_eq!(
        response.headers()["etag"],
        "\"2\"",
        "the change is a new version"
    );
    let native = expect_json(response, 200).await;
    assert_eq!(native["twoFactorEnabled"], true);
    let sixeye = expect_json(app.get(&format!("/users/{id}"), &t.admin).await, 200).await;
    assert_eq!(sixeye["data"]["attributes"]["twoFactorEnabled"], true);

    // Signing in now needs a code: none, a wrong one, the next step's one.
    let missing = expect_problem(login(&app, &t.id, "ada@acme.com", PASSWORD).await, 401).await;
    assert_eq!(missing["type"], "urn:roster:problem:two-factor-required");
    let rejected = expect_problem(
        login_with_code(&app, &t.id, "ada@acme.com", &wrong_code).await,
        401,
    )
    .await;
    assert_eq!(rejected["type"], "urn:roster:problem:two-factor-rejected");
    // The code that confirmed the enrolment was used; it is not accepted again.
    expect_problem(
        login_with_code(&app, &t.id, "ada@acme.com", &totp(secret, step)).await,
        401,
    )
    .await;
    let next = totp(secret, step + 1);
    let signed_in = expect_json(
        login_with_code(&app, &t.id, "ada@acme.com", &next).await,
        200,
    )
    .await;
    assert_eq!(signed_in["user"]["twoFactorEnabled"], true);
    // A code signs in once (RFC 6238 section 5.2).
    let replayed = expect_problem(
        login_with_code(&app, &t.id, "ada@acme.com", &next).await,
        401,
    )
    .await;
    assert_eq!(replayed["type"], "urn:roster:problem:two-factor-rejected");
    // A wrong password with a right code is the plain 401 of any wrong password.
    let bad_password = expect_problem(
        app.client
            .post(app.url(&format!("/v1/tenants/{}/auth/login", t.id)))
            .json(&json!({"email": "ada@acme.com", "password": "wrong", "twoFactorCode": totp(secret, step + 2)}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_eq!(
        bad_password["type"],
        "urn:roster:problem:invalid-credentials"
    );
    assert_eq!(bad_password["detail"], "invalid email or password");

    // Enrolling again while on is refused.
    expect_problem(
        app.post(
            &format!("{base}/totp"),
            &token,
            &json!({"password": PASSWORD}),
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn each_recovery_code_signs_in_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = enrolled_user(&app, &t, "bob@acme.com").await;
    let code = &user.recovery_codes[0];
    // Typed loosely: upper case, spaces for dashes.
    let typed = code.to_uppercase().replace('-', " ");
    let first = expect_json(
        login_with_code(&app, &t.id, "bob@acme.com", &typed).await,
        200,
    )
    .await;
    assert!(first["accessToken"].is_string());
    let again = expect_problem(
        login_with_code(&app, &t.id, "bob@acme.com", code).await,
        401,
    )
    .await;
    assert_eq!(again["type"], "urn:roster:problem:two-factor-rejected");
    let base = format!("/v1/tenants/{}/auth/two-factor", t.id);
    let status = expect_json(app.get(&base, &user.token).await, 200).await;
    assert_eq!(status["recoveryCodesLeft"], 9);

    // New codes replace the old ones; an old unused code no longer works.
    let fresh = expect_json(
        app.post(
            &format!("{base}/recovery-codes"),
            &user.token,
            &json!({"code": user.recovery_codes[1]}),
        )
        .await,
        200,
    )
    .await;
    let fresh: Vec<&str> = fresh["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(!fresh.contains(&user.recovery_codes[2].as_str()));
    expect_problem(
        login_with_code(&app, &t.id, "bob@acme.com", &user.recovery_codes[2]).await,
        401,
    )
    .await;
    expect_json(
        login_with_code(&app, &t.id, "bob@acme.com", fresh[0]).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn two_factor_is_turned_off_with_a_code_or_by_an_admin() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = enrolled_user(&app, &t, "cy@acme.com").await;
    let base = format!("/v1/tenants/{}/auth/two-factor", t.id);
    expect_problem(
        app.post(
            &format!("{base}/disable"),
            &user.token,
            &json!({"code": "000000-not-a-code"}),
        )
        .await,
        400,
    )
    .await;
    let off = app
        .post(
            &format!("{base}/disable"),
            &user.token,
            &json!({"code": totp(&user.secret, user.confirmed_step + 1)}),
        )
        .await;
    assert_eq!(off.status(), 204);
    let status = expect_json(app.get(&base, &user.token).await, 200).await;
    assert_eq!(
        status,
        json!({"enabled": false, "pending": false, "recoveryCodesLeft": 0})
    );
    token_of(&app, &t.id, "cy@acme.com").await;

    // An administrator turns it off for a user; a member may not, nor another tenant.
    let other = enrolled_user(&app, &t, "dee@acme.com").await;
    let path = format!("/v1/tenants/{}/users/{}/two-factor", t.id, other.id);
    expect_problem(app.delete(&path, &user.token).await, 403).await;
    let stranger = app.tenant().await;
    expect_problem(app.delete(&path, &stranger.admin).await, 404).await;
    expect_problem(
        app.delete(
            &format!("/v1/tenants/{}/users/{}/two-factor", stranger.id, other.id),
            &stranger.admin,
        )
        .await,
        404,
    )
    .await;
    assert_eq!(app.delete(&path, &t.admin).await.status(), 204);
    let native = expect_json(
        app.get(
            &format!("/v1/tenants/{}/users/{}", t.id, other.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(native["twoFactorEnabled"], false);
    token_of(&app, &t.id, "dee@acme.com").await;

    // Self-service needs a signed-in user's own token, not an API key.
    expect_problem(
        app.post(
            &format!("{base}/totp"),
            &t.admin,
            &json!({"password": PASSWORD}),
        )
        .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn wrong_two_factor_codes_lock_the_account_like_wrong_passwords() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = enrolled_user(&app, &t, "eve@acme.com").await;
    for _ in 0..5 {
        expect_problem(
            login_with_code(&app, &t.id, "eve@acme.com", "bad-recovery-code").await,
            401,
        )
        .await;
    }
    let locked = login_with_code(
        &app,
        &t.id,
        "eve@acme.com",
        &totp(&user.secret, user.confirmed_step + 1),
    )
    .await;
    assert_eq!(locked.status(), 423);
    let native = expect_json(
        app.get(&format!("/v1/tenants/{}/users/{}", t.id, user.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(native["login"]["failedLogins"], 5);
}

#[tokio::test]
async fn the_audit_log_records_two_factor_changes_without_their_secrets() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = enrolled_user(&app, &t, "fay@acme.com").await;
    expect_json(
        login_with_code(&app, &t.id, "fay@acme.com", &user.recovery_codes[0]).await,
        200,
    )
    .await;
    let events: Value = expect_json(
        app.get(
            &format!("/v1/tenants/{}/audit-events?limit=100", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    let text = events.to_string();
    assert!(!text.contains(&user.secret));
    for code in &user.recovery_codes {
        assert!(!text.contains(code.as_str()));
    }
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"user.two_factor.enrol"), "{actions:?}");
    assert!(actions.contains(&"user.two_factor.enable"), "{actions:?}");
    let recovery_login =
        events["items"].as_array().unwrap().iter().find(|e| {
            e["action"] == "auth.login" && e["details"]["secondFactor"] == "recovery_code"
        });
    assert!(recovery_login.is_some(), "{text}");
}

#[tokio::test]
async fn two_factor_changes_move_updated_at_and_the_version() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let before_enrolment = crate::users::now_as_written();
    let user = enrolled_user(&app, &t, "ts@acme.com").await;
    let state = || crate::users::version_and_updated_at(&app, &t.id, &t.admin, &user.id);
    let (mut etag, updated_at, _) = state().await;
    assert!(updated_at >= before_enrolment, "confirming the enrolment");
    assert_eq!(etag, "\"2\"", "created, then two-factor on");
    let base = format!("/v1/tenants/{}/auth/two-factor", t.id);
    let mut code = totp(&user.secret, user.confirmed_step + 1);
    for action in ["recovery-codes", "disable"] {
        let before = crate::users::now_as_written();
        let response = app
            .post(
                &format!("{base}/{action}"),
                &user.token,
                &json!({"code": code}),
            )
            .await;
        assert!(
            response.status().is_success(),
            "{action}: {}",
            response.status()
        );
        if action == "recovery-codes" {
            // Turned off next with one of the new recovery codes.
            let codes = expect_json(response, 200).await;
            code = codes["recoveryCodes"][0].as_str().unwrap().to_owned();
        }
        let (next, updated_at, _) = state().await;
        assert_ne!(next, etag, "{action} moves the version");
        assert!(updated_at >= before, "{action}: {updated_at} < {before}");
        etag = next;
    }
}
