//! Mail: password resets and invitations delivered over SMTP to a sink the harness
//! runs on 127.0.0.1 port 0, and followed from the received message.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ServerProcess, SmtpSink, TestApp, TestDatabase, TestTenant, expect_json, expect_problem,
};
use crate::sign_in::{PASSWORD, login};

const NEW_PASSWORD: &str = "a brand new passphrase for the directory";

/// A tenant of this name (one not plain ASCII makes lettre encode the bodies), with
/// an admin key.
async fn tenant_named(app: &TestApp, name: &str) -> TestTenant {
    let tenant = expect_json(
        app.post(
            "/v1/tenants",
            crate::helpers::OPERATOR_TOKEN,
            &json!({ "name": name }),
        )
        .await,
        201,
    )
    .await;
    let id = tenant["id"].as_str().unwrap().to_owned();
    let admin = app.api_key(&id, "admin").await;
    TestTenant { id, admin }
}

/// An active user with a password.
async fn active_user(app: &TestApp, t: &TestTenant, email: &str) -> Value {
    let body =
        json!({"email": email, "firstName": "Ada", "lastName": "Lovelace", "password": PASSWORD});
    expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await
}

async fn request_reset(app: &TestApp, tenant: &str, email: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/tenants/{tenant}/auth/password-reset")))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

async fn reset_password(
    app: &TestApp,
    tenant: &str,
    token: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/tenants/{tenant}/auth/reset-password")))
        .json(&json!({ "token": token, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn send_reset(app: &TestApp, t: &TestTenant, user: &str, key: &str) -> reqwest::Response {
    app.request(
        Method::POST,
        &format!("/v1/tenants/{}/users/{user}/password-reset", t.id),
        key,
    )
    .send()
    .await
    .unwrap()
}

/// Moves every stored reset token's expiry two hours into the past.
async fn expire_password_resets(app: &TestApp) {
    let url = app.database_url();
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query("UPDATE password_resets SET expires_at = expires_at - interval '2 hours'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query("UPDATE password_resets SET expires_at = expires_at - 7200000")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

#[tokio::test]
async fn a_user_resets_a_forgotten_password_from_the_mailed_link_and_signs_in_with_the_new_one() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    active_user(&app, &t, "ada@acme.com").await;
    let earlier =
        expect_json(login(&app, &t.id, "ada@acme.com", PASSWORD).await, 200).await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();

    let asked = request_reset(&app, &t.id, "ADA@acme.com").await;
    assert_eq!(asked.status(), 202);
    let mail = sink.message(1).await;
    assert_eq!(mail.to, vec!["ada@acme.com".to_owned()]);
    assert_eq!(mail.from, "roster@localhost");
    let link = mail.link();
    assert!(
        link.starts_with(&app.url(&format!("/ui/t/{}/reset-password?token=rp_", t.id))),
        "{link}"
    );

    let reset = reset_password(&app, &t.id, &mail.token(), NEW_PASSWORD).await;
    assert_eq!(reset.status(), 204);
    expect_json(login(&app, &t.id, "ada@acme.com", NEW_PASSWORD).await, 200).await;
    assert_eq!(
        login(&app, &t.id, "ada@acme.com", PASSWORD).await.status(),
        401,
        "the old password no longer signs in"
    );
    assert_eq!(
        app.get(&format!("/v1/tenants/{}/users", t.id), &earlier)
            .await
            .status(),
        401,
        "a reset ends the sign-ins made before it"
    );
}

#[tokio::test]
async fn a_reset_link_works_once() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    active_user(&app, &t, "once@acme.com").await;
    assert_eq!(
        request_reset(&app, &t.id, "once@acme.com").await.status(),
        202
    );
    let token = sink.message(1).await.token();
    assert_eq!(
        reset_password(&app, &t.id, &token, NEW_PASSWORD)
            .await
            .status(),
        204
    );
    expect_problem(
        reset_password(&app, &t.id, &token, "yet another strong passphrase").await,
        401,
    )
    .await;
    expect_json(login(&app, &t.id, "once@acme.com", NEW_PASSWORD).await, 200).await;
}

#[tokio::test]
async fn a_new_reset_link_replaces_the_earlier_one() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    active_user(&app, &t, "twice@acme.com").await;
    request_reset(&app, &t.id, "twice@acme.com").await;
    let first = sink.message(1).await.token();
    request_reset(&app, &t.id, "twice@acme.com").await;
    let second = sink.message(2).await.token();
    assert_ne!(first, second);
    expect_problem(reset_password(&app, &t.id, &first, NEW_PASSWORD).await, 401).await;
    assert_eq!(
        reset_password(&app, &t.id, &second, NEW_PASSWORD)
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn expired_and_other_tenants_reset_tokens_are_refused() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    active_user(&app, &t, "late@acme.com").await;
    request_reset(&app, &t.id, "late@acme.com").await;
    let token = sink.message(1).await.token();

    let refused = expect_problem(
        reset_password(&app, &other.id, &token, NEW_PASSWORD).await,
        401,
    )
    .await;
    assert!(!refused.to_string().contains(&token));
    for forged in [
        "",
        "rp_",
        "ri_not-a-reset-token",
        &token.replace("rp_", "ri_"),
    ] {
        expect_problem(reset_password(&app, &t.id, forged, NEW_PASSWORD).await, 401).await;
    }

    expire_password_resets(&app).await;
    expect_problem(reset_password(&app, &t.id, &token, NEW_PASSWORD).await, 401).await;
    expect_json(login(&app, &t.id, "late@acme.com", PASSWORD).await, 200).await;
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answer_and_no_mail() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    active_user(&app, &t, "known@acme.com").await;
    let disabled = active_user(&app, &t, "disabled@acme.com").await;
    expect_json(
        app.patch(
            &format!(
                "/v1/tenants/{}/users/{}",
                t.id,
                disabled["id"].as_str().unwrap()
            ),
            &t.admin,
            &json!({"status": "disabled"}),
        )
        .await,
        200,
    )
    .await;

    let unknown = request_reset(&app, &t.id, "nobody@acme.com").await;
    let unknown = (unknown.status(), unknown.text().await.unwrap());
    let not_active = request_reset(&app, &t.id, "disabled@acme.com").await;
    let not_active = (not_active.status(), not_active.text().await.unwrap());
    let known = request_reset(&app, &t.id, "known@acme.com").await;
    let known = (known.status(), known.text().await.unwrap());
    assert_eq!(unknown, known);
    assert_eq!(not_active, known);
    assert_eq!(known.0, 202);

    // The known user's mail arrives; the two asked before it were sent nothing.
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].to, vec!["known@acme.com".to_owned()]);
    // An administrator's send answers once its mail is taken: by then the sink holds
    // that one and the known user's, and nothing for the other two.
    let known_user = app
        .all_users(&t)
        .await
        .into_iter()
        .find(|u| u["email"] == "known@acme.com")
        .unwrap();
    expect_json(
        send_reset(&app, &t, known_user["id"].as_str().unwrap(), &t.admin).await,
        202,
    )
    .await;
    let mails = sink.messages();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(
        mails
            .iter()
            .all(|m| m.to == vec!["known@acme.com".to_owned()]),
        "{mails:?}"
    );

    for not_an_email in [
        "not an address",
        "a\u{0}b@acme.com",
        &format!("{}@acme.com", "x".repeat(65)),
    ] {
        let answer = request_reset(&app, &t.id, not_an_email).await;
        assert_eq!(answer.status(), 202, "{not_an_email:?}");
    }
    let elsewhere = request_reset(&app, &uuid::Uuid::new_v4().to_string(), "known@acme.com").await;
    assert_eq!(
        elsewhere.status(),
        202,
        "an unknown tenant is answered alike"
    );
}

#[tokio::test]
async fn the_reset_mail_has_a_text_and_an_html_body_naming_the_tenant_and_the_expiry() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = tenant_named(&app, "Zürich Ops & Co").await;
    active_user(&app, &t, "ada@zurich.example").await;
    request_reset(&app, &t.id, "ada@zurich.example").await;
    let mail = sink.message(1).await;

    let content_type = mail.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    assert!(
        mail.subject().contains("Zürich Ops & Co"),
        "{}",
        mail.subject()
    );
    let to = mail.header("To").unwrap();
    assert!(
        to.contains("Ada Lovelace") && to.contains("<ada@zurich.example>"),
        "{to}"
    );

    let text = mail.body("text/plain").expect("a plain-text body");
    let html = mail.body("text/html").expect("an HTML body");
    let link = mail.link();
    assert!(text.contains("Zürich Ops & Co"), "{text}");
    assert!(
        text.contains(&link) && text.contains("expires in 1 hour"),
        "{text}"
    );
    assert!(html.contains("Zürich Ops &amp; Co"), "{html}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    assert!(html.contains("expires in 1 hour"), "{html}");
}

#[tokio::test]
async fn an_invited_user_accepts_from_the_mailed_link_and_signs_in() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = tenant_named(&app, "Initech").await;
    let body = json!({"email": "new@initech.example", "firstName": "Peter", "lastName": "Gibbons", "status": "pending"});
    let user = expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await;
    let invited = expect_json(
        app.request(
            Method::POST,
            &format!(
                "/v1/tenants/{}/users/{}/invitation",
                t.id,
                user["id"].as_str().unwrap()
            ),
            &t.admin,
        )
        .send()
        .await
        .unwrap(),
        202,
    )
    .await;
    assert_eq!(
        invited,
        json!({"delivery": "mailed", "to": "new@initech.example"}),
        "the reply says it was mailed, and holds no token"
    );

    let mail = sink.message(1).await;
    assert_eq!(mail.to, vec!["new@initech.example".to_owned()]);
    assert!(mail.subject().contains("Initech"));
    let link = mail.link();
    assert!(
        link.starts_with(&app.url(&format!("/ui/t/{}/accept-invitation?token=ri_", t.id))),
        "{link}"
    );
    let text = mail.body("text/plain").unwrap();
    assert!(
        text.contains("Hello Peter Gibbons") && text.contains("in 7 days"),
        "{text}"
    );
    assert!(mail.body("text/html").unwrap().contains("Initech"));

    let accepted = app
        .client
        .post(app.url(&format!("/v1/tenants/{}/auth/accept-invitation", t.id)))
        .json(&json!({"token": mail.token(), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 204);
    expect_json(
        login(&app, &t.id, "new@initech.example", PASSWORD).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn dynatrace_shows_when_the_reset_mail_went_out() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    let user = active_user(&app, &t, "dyn@acme.com").await;
    let id = user["id"].as_str().unwrap();
    let listed = |app: &TestApp| {
        let path = format!(
            "/iam/v1/accounts/{}/users/groups?pageNumber=1&pageSize=10",
            t.id
        );
        let admin = t.admin.clone();
        let app_url = app.url(&path);
        let client = app.client.clone();
        async move {
            let body = expect_json(
                client.get(app_url).bearer_auth(admin).send().await.unwrap(),
                200,
            )
            .await;
            assert_eq!(body[0]["email"], "dyn@acme.com", "{body}");
            body[0]["userLoginMetadata"].clone()
        }
    };
    let metadata = listed(&app).await;
    assert!(
        metadata.get("resetPasswordTokenSentAt").is_some(),
        "{metadata}"
    );
    assert_eq!(metadata["resetPasswordTokenSentAt"], Value::Null);

    let before = chrono::Utc::now();
    let sent = expect_json(send_reset(&app, &t, id, &t.admin).await, 202).await;
    assert_eq!(sent, json!({"delivery": "mailed", "to": "dyn@acme.com"}));
    sink.message(1).await;
    let metadata = listed(&app).await;
    let sent_at = metadata["resetPasswordTokenSentAt"]
        .as_str()
        .unwrap_or_else(|| panic!("no time in {metadata}"));
    let sent_at = chrono::DateTime::parse_from_rfc3339(sent_at).unwrap();
    assert!(
        sent_at >= before - chrono::Duration::seconds(1),
        "{sent_at}"
    );
    assert!(
        metadata["updatedAt"].as_str().unwrap()
            >= metadata["resetPasswordTokenSentAt"].as_str().unwrap(),
        "the metadata's updatedAt is never before an event it reports: {metadata}"
    );
}

#[tokio::test]
async fn without_smtp_the_admin_is_answered_the_reset_link() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = active_user(&app, &t, "nomail@acme.com").await;
    let id = user["id"].as_str().unwrap();

    let reader = app.api_key(&t.id, "reader").await;
    expect_problem(send_reset(&app, &t, id, &reader).await, 403).await;

    let reply = send_reset(&app, &t, id, &t.admin).await;
    assert_eq!(reply.headers()["cache-control"], "no-store");
    let link = expect_json(reply, 201).await;
    assert_eq!(link["delivery"], "link");
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&app.url(&format!("/ui/t/{}/reset-password?token=rp_", t.id))),
        "{url}"
    );
    assert!(link["expiresAt"].is_string());
    let token = link["token"].as_str().unwrap();
    assert!(url.ends_with(token));

    assert_eq!(
        reset_password(&app, &t.id, token, NEW_PASSWORD)
            .await
            .status(),
        204
    );
    expect_json(
        login(&app, &t.id, "nomail@acme.com", NEW_PASSWORD).await,
        200,
    )
    .await;

    // A link is not a mail: Dynatrace still shows none sent.
    let listed = expect_json(
        app.get(
            &format!(
                "/iam/v1/accounts/{}/users/groups?pageNumber=1&pageSize=10",
                t.id
            ),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    let metadata = &listed[0]["userLoginMetadata"];
    assert!(
        metadata.get("resetPasswordTokenSentAt").is_some(),
        "{listed}"
    );
    assert_eq!(metadata["resetPasswordTokenSentAt"], Value::Null);

    // Anyone's request is taken and sends nothing.
    assert_eq!(
        request_reset(&app, &t.id, "nomail@acme.com").await.status(),
        202
    );
}

#[tokio::test]
async fn without_smtp_the_invitation_answers_its_link() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body =
        json!({"email": "p@acme.com", "firstName": "P", "lastName": "Q", "status": "pending"});
    let user = expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await;
    let invited = expect_json(
        app.request(
            Method::POST,
            &format!(
                "/v1/tenants/{}/users/{}/invitation",
                t.id,
                user["id"].as_str().unwrap()
            ),
            &t.admin,
        )
        .send()
        .await
        .unwrap(),
        201,
    )
    .await;
    assert_eq!(invited["delivery"], "link");
    let token = invited["token"].as_str().unwrap();
    assert_eq!(
        invited["url"].as_str().unwrap(),
        app.url(&format!("/ui/t/{}/accept-invitation?token={token}", t.id))
    );
}

#[tokio::test]
async fn a_mail_server_that_refuses_is_a_clear_error_not_a_panic() {
    let sink = SmtpSink::refusing().await;
    let app = TestApp::spawn_mailing_to(&sink, |_| {}).await;
    let t = app.tenant().await;
    let user = active_user(&app, &t, "bounce@acme.com").await;
    let id = user["id"].as_str().unwrap();

    let refused = expect_problem(send_reset(&app, &t, id, &t.admin).await, 502).await;
    assert_eq!(refused["type"], "urn:roster:problem:mail-not-sent");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("mail server did not take it"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("rp_"));

    let body = json!({"email": "pending@acme.com", "firstName": "P", "lastName": "Q", "status": "pending"});
    let pending = expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await;
    let invited = app
        .request(
            Method::POST,
            &format!(
                "/v1/tenants/{}/users/{}/invitation",
                t.id,
                pending["id"].as_str().unwrap()
            ),
            &t.admin,
        )
        .send()
        .await
        .unwrap();
    expect_problem(invited, 502).await;

    // Anyone's request is still taken alike; the server keeps serving.
    assert_eq!(
        request_reset(&app, &t.id, "bounce@acme.com").await.status(),
        202
    );
    assert_eq!(app.get("/healthz", "").await.status(), 200);
    expect_json(login(&app, &t.id, "bounce@acme.com", PASSWORD).await, 200).await;
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn an_unreachable_mail_server_is_the_same_clear_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(move |settings| {
        settings.mail.smtp_url = Some(roster::mail::SmtpUrl::new(format!(
            "smtp://127.0.0.1:{port}"
        )));
    })
    .await;
    let t = app.tenant().await;
    let user = active_user(&app, &t, "nowhere@acme.com").await;
    let refused = expect_problem(
        send_reset(&app, &t, user["id"].as_str().unwrap(), &t.admin).await,
        502,
    )
    .await;
    assert_eq!(refused["type"], "urn:roster:problem:mail-not-sent");
}

#[tokio::test]
async fn a_reset_lifts_the_sign_in_lockout() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    active_user(&app, &t, "locked@acme.com").await;
    for _ in 0..5 {
        login(&app, &t.id, "locked@acme.com", "wrong password").await;
    }
    expect_problem(login(&app, &t.id, "locked@acme.com", PASSWORD).await, 423).await;

    request_reset(&app, &t.id, "locked@acme.com").await;
    let token = sink.message(1).await.token();
    assert_eq!(
        reset_password(&app, &t.id, &token, NEW_PASSWORD)
            .await
            .status(),
        204
    );
    expect_json(
        login(&app, &t.id, "locked@acme.com", NEW_PASSWORD).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn reset_requests_are_throttled_per_account_and_per_client_address() {
    let (app, _sink) = TestApp::spawn_with_mail_and(|s| {
        s.sign_in.max_failures = 2;
        s.sign_in.max_attempts_per_address = 4;
    })
    .await;
    let t = app.tenant().await;
    active_user(&app, &t, "busy@acme.com").await;
    for _ in 0..2 {
        assert_eq!(
            request_reset(&app, &t.id, "busy@acme.com").await.status(),
            202
        );
    }
    let locked = request_reset(&app, &t.id, "BUSY@acme.com").await;
    assert!(locked.headers().contains_key("retry-after"));
    expect_problem(locked, 423).await;
    // The same for an address that is nobody's, so the lock tells nothing.
    for _ in 0..2 {
        request_reset(&app, &t.id, "ghost@acme.com").await;
    }
    let throttled = request_reset(&app, &t.id, "third@acme.com").await;
    assert!(throttled.headers().contains_key("retry-after"));
    expect_problem(throttled, 429).await;

    // Its own counters: signing in is not throttled by them.
    expect_json(login(&app, &t.id, "busy@acme.com", PASSWORD).await, 200).await;
}

#[tokio::test]
async fn only_an_active_user_is_sent_a_reset_and_a_weak_password_is_refused() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    let body = json!({"email": "pending@acme.com", "firstName": "P", "lastName": "Q", "status": "pending"});
    let pending = expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await;
    let refused = expect_problem(
        send_reset(&app, &t, pending["id"].as_str().unwrap(), &t.admin).await,
        400,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "status");
    expect_problem(
        send_reset(&app, &t, &uuid::Uuid::new_v4().to_string(), &t.admin).await,
        404,
    )
    .await;

    let user = active_user(&app, &t, "weak@acme.com").await;
    expect_json(
        send_reset(&app, &t, user["id"].as_str().unwrap(), &t.admin).await,
        202,
    )
    .await;
    let token = sink.message(1).await.token();
    let weak = expect_problem(reset_password(&app, &t.id, &token, "abc").await, 400).await;
    assert_eq!(weak["errors"][0]["field"], "password");
    // Refused input uses nothing up: the link still works.
    assert_eq!(
        reset_password(&app, &t.id, &token, NEW_PASSWORD)
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn resets_are_audited_without_their_tokens() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.tenant().await;
    let user = active_user(&app, &t, "audit@acme.com").await;
    let id = user["id"].as_str().unwrap();
    request_reset(&app, &t.id, "audit@acme.com").await;
    request_reset(&app, &t.id, "stranger@acme.com").await;
    let token = sink.message(1).await.token();
    reset_password(&app, &t.id, &token, NEW_PASSWORD).await;
    expect_json(send_reset(&app, &t, id, &t.admin).await, 202).await;
    sink.message(2).await;

    let log = expect_json(
        app.get(
            &format!("/v1/tenants/{}/audit-events?limit=1000", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    let events = log["items"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "user.password_reset.request",
        "user.password_reset",
        "user.password_reset.send",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let requests: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "user.password_reset.request")
        .collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["target"]["id"], id);
    assert_eq!(requests[1]["target"]["id"], "stranger@acme.com");
    let text = log.to_string();
    assert!(!text.contains("rp_") && !text.contains(&token), "{text}");
}

#[tokio::test]
async fn neither_the_smtp_password_nor_a_link_reaches_the_log() {
    let sink = SmtpSink::start().await;
    let refusing = SmtpSink::refusing().await;
    let smtp_password = "smtp-pass-never-logged-0815";
    let bootstrap = "bootstrap-secret-for-the-mail-log-test";
    let database = TestDatabase::create().await;
    let server = ServerProcess::start(
        &database.url(),
        &[
            ("ROSTER_BOOTSTRAP_TOKEN", bootstrap),
            ("ROSTER_LOG_LEVEL", "trace"),
            (
                "ROSTER_SMTP_URL",
                &format!("smtp://mailer:{smtp_password}@{}", sink.addr),
            ),
            ("ROSTER_SMTP_FROM", "Directory <directory@acme.example>"),
        ],
    );
    let client = reqwest::Client::new();
    let tenant = expect_json(
        client
            .post(server.url("/v1/tenants"))
            .bearer_auth(bootstrap)
            .json(&json!({"name": "Logged"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let tid = tenant["id"].as_str().unwrap();
    let user = expect_json(
        client
            .post(server.url(&format!("/v1/tenants/{tid}/users")))
            .bearer_auth(bootstrap)
            .json(&json!({"email": "log@acme.com", "firstName": "L", "lastName": "G", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let asked = client
        .post(server.url(&format!("/v1/tenants/{tid}/auth/password-reset")))
        .json(&json!({"email": "log@acme.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    let sent = client
        .post(server.url(&format!(
            "/v1/tenants/{tid}/users/{}/password-reset",
            user["id"].as_str().unwrap()
        )))
        .bearer_auth(bootstrap)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let mails = sink.wait_for(2).await;
    for mail in &mails {
        assert_eq!(mail.from, "directory@acme.example");
        assert_eq!(
            mail.auth.as_deref(),
            Some(&*format!("mailer:{smtp_password}"))
        );
    }
    // The requested mail goes out after its answer, so the two may arrive in either
    // order: the administrator's link, made last, is the one that works.
    let mut statuses = Vec::new();
    for mail in &mails {
        let used = client
            .post(server.url(&format!("/v1/tenants/{tid}/auth/reset-password")))
            .json(&json!({"token": mail.token(), "password": NEW_PASSWORD}))
            .send()
            .await
            .unwrap();
        statuses.push(used.status().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [204, 401],
        "one link works: the later one replaced the first"
    );

    let log = server.stderr();
    assert!(log.contains("password-reset"), "requests are logged: {log}");
    for mail in &mails {
        assert!(!log.contains(&mail.token()), "a token leaked into the log");
    }
    for secret in [smtp_password, "rp_", NEW_PASSWORD, PASSWORD] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
    drop(server);

    // A refused send is logged with its cause, and still without the link.
    let server = ServerProcess::start(
        &database.url(),
        &[
            ("ROSTER_BOOTSTRAP_TOKEN", bootstrap),
            ("ROSTER_LOG_LEVEL", "trace"),
            ("ROSTER_SMTP_URL", &refusing.url()),
        ],
    );
    let refused = client
        .post(server.url(&format!(
            "/v1/tenants/{tid}/users/{}/password-reset",
            user["id"].as_str().unwrap()
        )))
        .bearer_auth(bootstrap)
        .send()
        .await
        .unwrap();
    expect_problem(refused, 502).await;
    let log = server.stderr();
    assert!(
        log.contains("a mail was not sent") && log.contains("550"),
        "the failure and the server's answer are logged: {log}"
    );
    assert!(!log.contains("rp_"), "a token leaked into the log");
}
