use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, expect_json, expect_problem};

pub const PASSWORD: &str = "correct horse battery staple";

pub async fn login(app: &TestApp, tenant: &str, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/tenants/{tenant}/auth/login")))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn user_with_password(app: &TestApp, t: &TestTenant, email: &str, role: &str) -> Value {
    let body = json!({"email": email, "firstName": "S", "lastName": "I", "password": PASSWORD, "role": role});
    expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await
}

#[tokio::test]
async fn a_user_signs_in_and_acts_with_its_role() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let member = user_with_password(&app, &t, "member@acme.com", "member").await;
    let signed_in = login(&app, &t.id, "MEMBER@acme.com", PASSWORD).await;
    assert_eq!(signed_in.headers()["cache-control"], "no-store");
    let body = expect_json(signed_in, 200).await;
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 3600);
    assert_eq!(body["user"]["id"], member["id"]);
    assert!(!body.to_string().contains(PASSWORD));
    let token = body["accessToken"].as_str().unwrap();

    let users = format!("/v1/tenants/{}/users", t.id);
    assert_eq!(
        app.get(&users, token).await.status(),
        200,
        "a member reads the directory"
    );
    expect_problem(
        app.post(
            &users,
            token,
            &json!({"email": "x@acme.com", "firstName": "x", "lastName": "y"}),
        )
        .await,
        403,
    )
    .await;
    let admin = user_with_password(&app, &t, "admin@acme.com", "admin").await;
    let admin_token = expect_json(login(&app, &t.id, "admin@acme.com", PASSWORD).await, 200).await
        ["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.post(
            &users,
            &admin_token,
            &json!({"email": "y@acme.com", "firstName": "y", "lastName": "z"})
        )
        .await
        .status(),
        201
    );

    // The sign-in shows on every face that has the fields.
    let native = expect_json(
        app.get(
            &format!("{users}/{}", member["id"].as_str().unwrap()),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(native["login"]["successfulLogins"], 1);
    assert!(native["login"]["lastSuccessfulLoginAt"].is_string());
    let sixeye = expect_json(
        app.get(
            &format!("/users/{}", admin["id"].as_str().unwrap()),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert!(
        sixeye["data"]["attributes"]["lastLoginTime"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );

    // Signing out ends the token.
    let out = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/tenants/{}/auth/logout", t.id),
            token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    expect_problem(app.get(&users, token).await, 401).await;
}

#[tokio::test]
async fn a_member_changes_its_own_profile_and_nothing_else() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let member = user_with_password(&app, &t, "self@acme.com", "member").await;
    let other = user_with_password(&app, &t, "other@acme.com", "member").await;
    let token =
        expect_json(login(&app, &t.id, "self@acme.com", PASSWORD).await, 200).await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
    let own = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        member["id"].as_str().unwrap()
    );
    let changed = expect_json(
        app.patch(
            &own,
            &token,
            &json!({"firstName": "Selma", "phone": "+1 555 0100",
                    "profile": {"title": "Engineer", "timezone": "Europe/Oslo"}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (&changed["firstName"], &changed["phone"]),
        (&json!("Selma"), &json!("+1 555 0100"))
    );
    assert_eq!(changed["profile"]["title"], "Engineer");
    // What decides its access stays with the administrators.
    for forbidden in [
        json!({"role": "admin"}),
        json!({"status": "disabled"}),
        json!({"email": "elsewhere@acme.com"}),
        json!({"externalId": "x-1"}),
        json!({"firstName": "Sneaky", "role": "admin"}),
        json!({"profile": {"roles": [{"value": "admin"}]}}),
        json!({"profile": {"emails": [{"value": "elsewhere@acme.com"}]}}),
    ] {
        expect_problem(app.patch(&own, &token, &forbidden).await, 403).await;
    }
    // And another user is not its to change.
    let theirs = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        other["id"].as_str().unwrap()
    );
    expect_problem(
        app.patch(&theirs, &token, &json!({"firstName": "X"})).await,
        403,
    )
    .await;
    let unchanged = expect_json(app.get(&own, &t.admin).await, 200).await;
    assert_eq!(
        (&unchanged["role"], &unchanged["firstName"]),
        (&json!("member"), &json!("Selma"))
    );
}

#[tokio::test]
async fn unknown_emails_and_wrong_passwords_are_answered_alike() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    user_with_password(&app, &t, "real@acme.com", "member").await;
    let unknown = expect_problem(login(&app, &t.id, "nobody@acme.com", PASSWORD).await, 401).await;
    let wrong = expect_problem(
        login(&app, &t.id, "real@acme.com", "not the password").await,
        401,
    )
    .await;
    assert_eq!(unknown, wrong);
    let no_password = app.user(&t, "nopass@acme.com").await;
    assert!(no_password["hasPassword"] == false);
    assert_eq!(
        expect_problem(login(&app, &t.id, "nopass@acme.com", "").await, 401).await,
        unknown
    );
    let elsewhere = expect_problem(
        login(
            &app,
            &uuid::Uuid::now_v7().to_string(),
            "real@acme.com",
            PASSWORD,
        )
        .await,
        401,
    )
    .await;
    assert_eq!(elsewhere, unknown);
    let failed = expect_json(
        app.get(
            &format!("/v1/tenants/{}/users?email=real@acme.com", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(failed["items"][0]["login"]["failedLogins"], 1);
    assert!(failed["items"][0]["login"]["lastFailedLoginAt"].is_string());
}

#[tokio::test]
async fn disabled_and_pending_users_are_told_why_only_with_the_right_password() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = user_with_password(&app, &t, "off@acme.com", "member").await;
    let path = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        user["id"].as_str().unwrap()
    );
    expect_json(
        app.patch(&path, &t.admin, &json!({"status": "disabled"}))
            .await,
        200,
    )
    .await;
    let refused = expect_problem(login(&app, &t.id, "off@acme.com", PASSWORD).await, 403).await;
    assert_eq!(refused["detail"], "this account is disabled");
    expect_problem(
        login(&app, &t.id, "off@acme.com", "wrong password here").await,
        401,
    )
    .await;
    expect_json(
        app.patch(&path, &t.admin, &json!({"status": "pending"}))
            .await,
        200,
    )
    .await;
    let pending = expect_problem(login(&app, &t.id, "off@acme.com", PASSWORD).await, 403).await;
    assert_eq!(pending["detail"], "this account has not been activated yet");
}

#[tokio::test]
async fn repeated_failures_lock_an_account_shared_by_every_instance_until_unlocked() {
    let app = TestApp::spawn().await;
    let other = app.spawn_sharing(|_| {}).await;
    let t = app.tenant().await;
    let user = user_with_password(&app, &t, "target@acme.com", "member").await;
    for i in 0..5 {
        let instance = if i % 2 == 0 { &app } else { &other };
        expect_problem(
            login(instance, &t.id, "target@acme.com", "guess number x").await,
            401,
        )
        .await;
    }
    for instance in [&app, &other] {
        let locked = login(instance, &t.id, "target@acme.com", PASSWORD).await;
        let retry: i64 = locked.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 900, "{retry}");
        expect_problem(locked, 423).await;
    }
    // Unknown addresses lock the same way, so a lock says nothing about existence.
    for _ in 0..5 {
        expect_problem(
            login(&app, &t.id, "ghost@acme.com", "guess number y").await,
            401,
        )
        .await;
    }
    expect_problem(
        login(&app, &t.id, "ghost@acme.com", "guess number y").await,
        423,
    )
    .await;

    let unlock = format!(
        "/v1/tenants/{}/users/{}/unlock",
        t.id,
        user["id"].as_str().unwrap()
    );
    assert_eq!(
        app.request(reqwest::Method::POST, &unlock, &t.admin)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    expect_json(login(&other, &t.id, "target@acme.com", PASSWORD).await, 200).await;
}

#[tokio::test]
async fn a_client_address_is_limited_across_accounts() {
    let app = TestApp::spawn_with(|s| s.sign_in.max_attempts_per_address = 3).await;
    let t = app.tenant().await;
    user_with_password(&app, &t, "a@acme.com", "member").await;
    for i in 0..3 {
        expect_problem(
            login(&app, &t.id, &format!("u{i}@acme.com"), "some password").await,
            401,
        )
        .await;
    }
    let throttled = login(&app, &t.id, "a@acme.com", PASSWORD).await;
    assert!(throttled.headers().contains_key("retry-after"));
    expect_problem(throttled, 429).await;
}

async fn login_from(app: &TestApp, tenant: &str, forwarded_for: &str) -> u16 {
    app.client
        .post(app.url(&format!("/v1/tenants/{tenant}/auth/login")))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": "nobody@acme.com", "password": "wrong"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn audited_addresses(app: &TestApp, t: &TestTenant) -> Vec<String> {
    let events = expect_json(
        app.get(
            &format!("/v1/tenants/{}/audit-events?action=auth.login", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["client"]["address"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_limited_on_its_own() {
    let app = TestApp::spawn_with(|s| {
        s.http.trusted_proxies =
            roster::http::credentials::TrustedProxies::parse("127.0.0.1").unwrap();
        s.sign_in.max_attempts_per_address = 2;
    })
    .await;
    let t = app.tenant().await;
    assert_eq!(login_from(&app, &t.id, "203.0.113.7").await, 401);
    // What the client wrote before the proxy's entry does not change who it is.
    assert_eq!(
        login_from(&app, &t.id, "198.51.100.1, 203.0.113.7").await,
        401
    );
    assert_eq!(login_from(&app, &t.id, "203.0.113.7").await, 429);
    assert_eq!(login_from(&app, &t.id, "203.0.113.8").await, 401);
    let addresses = audited_addresses(&app, &t).await;
    assert_eq!(addresses.len(), 3, "{addresses:?}");
    assert!(
        addresses.iter().all(|a| a.starts_with("203.0.113.")),
        "{addresses:?}"
    );
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = TestApp::spawn_with(|s| s.sign_in.max_attempts_per_address = 2).await;
    let t = app.tenant().await;
    assert_eq!(login_from(&app, &t.id, "203.0.113.7").await, 401);
    assert_eq!(login_from(&app, &t.id, "203.0.113.8").await, 401);
    assert_eq!(login_from(&app, &t.id, "203.0.113.9").await, 429);
    let addresses = audited_addresses(&app, &t).await;
    assert!(addresses.iter().all(|a| a == "127.0.0.1"), "{addresses:?}");
}

#[tokio::test]
async fn an_imported_bcrypt_hash_signs_in_and_is_rehashed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let bcrypt = bcrypt::hash(PASSWORD, 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let body = json!({"email": "legacy@acme.com", "firstName": "L", "lastName": "H", "passwordHash": bcrypt});
    let user = expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await;
    assert!(!user.to_string().contains("$2y$"));
    expect_problem(
        login(&app, &t.id, "legacy@acme.com", "not it at all").await,
        401,
    )
    .await;
    expect_json(login(&app, &t.id, "legacy@acme.com", PASSWORD).await, 200).await;

    let store = app.store().await;
    let tenant = roster::domain::TenantId::parse(&t.id).unwrap();
    let (_, stored) = store
        .find_sign_in(tenant, "legacy@acme.com")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "re-hashed under the current parameters"
    );
    expect_json(login(&app, &t.id, "legacy@acme.com", PASSWORD).await, 200).await;

    let both = json!({"email": "x@acme.com", "firstName": "x", "lastName": "y", "password": PASSWORD, "passwordHash": bcrypt});
    let problem = expect_problem(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &both)
            .await,
        400,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "passwordHash");
    let bad = json!({"email": "y@acme.com", "firstName": "x", "lastName": "y", "passwordHash": "md5:abc"});
    expect_problem(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &bad)
            .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn passwords_are_changed_by_their_user_and_reset_by_an_admin() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = user_with_password(&app, &t, "me@acme.com", "member").await;
    let token =
        expect_json(login(&app, &t.id, "me@acme.com", PASSWORD).await, 200).await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
    let change = format!("/v1/tenants/{}/auth/password", t.id);
    let wrong = app
        .request(reqwest::Method::POST, &change, &token)
        .json(
            &json!({"currentPassword": "nope nope nope", "newPassword": "another long passphrase"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_problem(wrong, 400).await["errors"][0]["field"],
        "currentPassword"
    );
    let changed = app
        .request(reqwest::Method::POST, &change, &token)
        .json(&json!({"currentPassword": PASSWORD, "newPassword": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    expect_problem(login(&app, &t.id, "me@acme.com", PASSWORD).await, 401).await;
    expect_json(
        login(&app, &t.id, "me@acme.com", "another long passphrase").await,
        200,
    )
    .await;
    // An API key is not a user: it cannot change "its" password.
    let by_key = app
        .request(reqwest::Method::POST, &change, &t.admin)
        .json(&json!({"currentPassword": "x", "newPassword": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    expect_problem(by_key, 403).await;

    let reset = format!(
        "/v1/tenants/{}/users/{}/password",
        t.id,
        user["id"].as_str().unwrap()
    );
    let weak = app
        .request(reqwest::Method::PUT, &reset, &t.admin)
        .json(&json!({"password": "short"}))
        .send()
        .await
        .unwrap();
    expect_problem(weak, 400).await;
    let by_member = app
        .request(reqwest::Method::PUT, &reset, &token)
        .json(&json!({"password": "a third long passphrase"}))
        .send()
        .await
        .unwrap();
    expect_problem(by_member, 403).await;
    let done = app
        .request(reqwest::Method::PUT, &reset, &t.admin)
        .json(&json!({"password": "a third long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 204);
    expect_json(
        login(&app, &t.id, "me@acme.com", "a third long passphrase").await,
        200,
    )
    .await;
}

#[tokio::test]
async fn tokens_expire() {
    let app = TestApp::spawn_with(|s| s.sign_in.token_ttl_seconds = 1).await;
    let t = app.tenant().await;
    user_with_password(&app, &t, "brief@acme.com", "member").await;
    let token =
        expect_json(login(&app, &t.id, "brief@acme.com", PASSWORD).await, 200).await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
    let users = format!("/v1/tenants/{}/users", t.id);
    assert_eq!(app.get(&users, &token).await.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.get(&users, &token).await.status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the token never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_sign_in_flood_does_not_fail_unrelated_reads() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    user_with_password(&app, &t, "flood@acme.com", "member").await;
    let users = format!("/v1/tenants/{}/users", t.id);
    let sign_ins = (0..24).map(|_| async {
        login(&app, &t.id, "flood@acme.com", PASSWORD)
            .await
            .status()
            .as_u16()
    });
    let reads = (0..24).map(|_| async { app.get(&users, &t.admin).await.status().as_u16() });
    let (sign_ins, reads) = tokio::join!(
        futures_util::future::join_all(sign_ins),
        futures_util::future::join_all(reads)
    );
    assert!(sign_ins.iter().all(|s| *s == 200), "{sign_ins:?}");
    assert!(reads.iter().all(|s| *s == 200), "{reads:?}");
}

/// The server's peak resident memory so far, in KiB (Linux's VmHWM).
#[cfg(target_os = "linux")]
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// With the OWASP parameters (19 MiB per hash) and two hashing threads, 200 sign-ins
/// at once may hold at most two hashes' memory beyond what the server needs anyway.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_sign_in_flood_stays_within_its_memory_bound() {
    use crate::helpers::{ServerProcess, TestDatabase};
    let database = TestDatabase::create().await;
    let operator = "flood-operator-token-0001";
    let server = ServerProcess::start(
        &database.url(),
        &[
            ("ROSTER_BOOTSTRAP_TOKEN", operator),
            ("ROSTER_PASSWORD_MAX_CONCURRENT", "2"),
            ("ROSTER_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", "100000"),
            // 200 sign-ins from one address all count on that address's one row, so
            // on PostgreSQL they queue for it holding pooled connections; past the
            // 3 s acquire timeout a loaded machine sheds some with 503. This test
            // measures memory, not shedding: let every one of them wait.
            ("ROSTER_DATABASE_ACQUIRE_TIMEOUT_SECS", "60"),
            // Nor answer any with 408: 200 hashes on two threads of a machine busy
            // with other tests can take longer than the 30-s request timeout.
            ("ROSTER_REQUEST_TIMEOUT_SECS", "600"),
        ],
    );
    let client = reqwest::Client::new();
    let tenant = expect_json(
        client
            .post(server.url("/v1/tenants"))
            .bearer_auth(operator)
            .json(&json!({"name": "Flood"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let tenant = tenant["id"].as_str().unwrap();
    let created = client
        .post(server.url(&format!("/v1/tenants/{tenant}/users")))
        .bearer_auth(operator)
        .json(&json!({"email": "f@acme.com", "firstName": "F", "lastName": "L", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let login_url = server.url(&format!("/v1/tenants/{tenant}/auth/login"));
    let sign_in = || async {
        client
            .post(&login_url)
            .json(&json!({"email": "f@acme.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // Warm: one sign-in on each hashing thread.
    assert_eq!(tokio::join!(sign_in(), sign_in()), (200, 200));
    let warm = peak_memory_kib(server.child.id());

    let flood = futures_util::future::join_all((0..200).map(|_| sign_in())).await;
    assert!(flood.iter().all(|s| *s == 200), "{flood:?}");
    let peak = peak_memory_kib(server.child.id());
    let bound = 2 * 19 * 1024 + 32 * 1024;
    assert!(
        peak <= warm + bound,
        "peak {peak} KiB after the flood, {warm} KiB warm: more than {bound} KiB apart"
    );
}

#[tokio::test]
async fn a_pending_user_sets_its_first_password_with_a_one_time_invitation() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body =
        json!({"email": "new@acme.com", "firstName": "N", "lastName": "U", "status": "pending"});
    let user = expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await;
    let invite_path = format!(
        "/v1/tenants/{}/users/{}/invitation",
        t.id,
        user["id"].as_str().unwrap()
    );
    let reader = app.api_key(&t.id, "reader").await;
    expect_problem(
        app.request(reqwest::Method::POST, &invite_path, &reader)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let first = expect_json(
        app.request(reqwest::Method::POST, &invite_path, &t.admin)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let invitation = expect_json(
        app.request(reqwest::Method::POST, &invite_path, &t.admin)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let token = invitation["token"].as_str().unwrap();
    assert!(token.starts_with("ri_") && invitation["expiresAt"].is_string());

    let accept = format!("/v1/tenants/{}/auth/accept-invitation", t.id);
    let post = |token: String, password: &'static str| {
        app.client
            .post(app.url(&accept))
            .json(&json!({"token": token, "password": password}))
            .send()
    };
    expect_problem(
        post(first["token"].as_str().unwrap().to_owned(), PASSWORD)
            .await
            .unwrap(),
        401,
    )
    .await;
    expect_problem(post(token.to_owned(), "password1").await.unwrap(), 400).await;
    assert_eq!(
        post(token.to_owned(), PASSWORD).await.unwrap().status(),
        204
    );
    expect_problem(post(token.to_owned(), PASSWORD).await.unwrap(), 401).await;

    let native = expect_json(
        app.get(
            &format!(
                "/v1/tenants/{}/users/{}",
                t.id,
                user["id"].as_str().unwrap()
            ),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(native["status"], "active");
    assert_eq!(native["hasPassword"], true);
    expect_json(login(&app, &t.id, "new@acme.com", PASSWORD).await, 200).await;
    // Only pending users are invited.
    expect_problem(
        app.request(reqwest::Method::POST, &invite_path, &t.admin)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
}

/// A sign-in of `email` with `password` from the client `forwarded_for` (the server
/// trusts 127.0.0.1 as its proxy).
async fn sign_in_from(
    app: &TestApp,
    tenant: &str,
    forwarded_for: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/tenants/{tenant}/auth/login")))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

fn behind_a_trusted_proxy(s: &mut roster::config::ServeSettings) {
    s.http.trusted_proxies = roster::http::credentials::TrustedProxies::parse("127.0.0.1").unwrap();
}

#[tokio::test]
async fn failures_from_one_address_lock_the_account_only_for_that_address() {
    let app = TestApp::spawn_with(behind_a_trusted_proxy).await;
    let t = app.tenant().await;
    user_with_password(&app, &t, "victim@acme.com", "member").await;
    let attacker = "203.0.113.66";
    for _ in 0..5 {
        let failed = sign_in_from(&app, &t.id, attacker, "victim@acme.com", "guess guess").await;
        expect_problem(failed, 401).await;
    }
    // The guesser is stopped, even with the right password...
    let stopped = sign_in_from(&app, &t.id, attacker, "victim@acme.com", PASSWORD).await;
    assert!(stopped.headers().contains_key("retry-after"));
    expect_problem(stopped, 423).await;
    // ...and the owner, elsewhere, is not.
    let owner = sign_in_from(&app, &t.id, "198.51.100.10", "Victim@Acme.com", PASSWORD).await;
    expect_json(owner, 200).await;
    // The owner's success does not unlock the guesser's address.
    let still = sign_in_from(&app, &t.id, attacker, "victim@acme.com", PASSWORD).await;
    expect_problem(still, 423).await;
}

#[tokio::test]
async fn the_account_wide_ceiling_locks_the_account_for_every_address() {
    // Two failures per address, 20 in all.
    let app = TestApp::spawn_with(|s| {
        behind_a_trusted_proxy(s);
        s.sign_in.max_failures = 2;
        s.sign_in.max_account_failures = 20;
    })
    .await;
    let t = app.tenant().await;
    user_with_password(&app, &t, "victim@acme.com", "member").await;
    for i in 0..19 {
        let from = format!("203.0.113.{i}");
        let failed = sign_in_from(&app, &t.id, &from, "victim@acme.com", "guess guess").await;
        expect_problem(failed, 401).await;
    }
    // Below the ceiling, a fresh address still signs in.
    let fresh = sign_in_from(&app, &t.id, "198.51.100.1", "victim@acme.com", PASSWORD).await;
    expect_json(fresh, 200).await;
    let last = sign_in_from(
        &app,
        &t.id,
        "203.0.113.19",
        "victim@acme.com",
        "guess guess",
    )
    .await;
    expect_problem(last, 401).await;
    for from in ["198.51.100.1", "198.51.100.2"] {
        let locked = sign_in_from(&app, &t.id, from, "victim@acme.com", PASSWORD).await;
        assert!(locked.headers().contains_key("retry-after"));
        expect_problem(locked, 423).await;
    }
}

#[tokio::test]
async fn a_failed_sign_in_says_invalid_email_or_password() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    user_with_password(&app, &t, "real@acme.com", "member").await;
    for (email, password) in [
        ("real@acme.com", "not the password"),
        ("nobody@acme.com", PASSWORD),
        ("not an email", PASSWORD),
    ] {
        let failed = login(&app, &t.id, email, password).await;
        assert!(
            !failed.headers().contains_key("www-authenticate"),
            "no bearer challenge for a sign-in"
        );
        let problem = expect_problem(failed, 401).await;
        assert_eq!(problem["detail"], "invalid email or password", "{email}");
        assert!(!problem.to_string().to_lowercase().contains("bearer"));
    }
}

#[tokio::test]
async fn accepting_an_invitation_moves_updated_at_and_the_version() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body =
        json!({"email": "inv@acme.com", "firstName": "I", "lastName": "V", "status": "pending"});
    let user = expect_json(
        app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
            .await,
        201,
    )
    .await;
    let id = user["id"].as_str().unwrap();
    let invitation = expect_json(
        app.request(
            reqwest::Method::POST,
            &format!("/v1/tenants/{}/users/{id}/invitation", t.id),
            &t.admin,
        )
        .send()
        .await
        .unwrap(),
        201,
    )
    .await;
    let (etag, _, _) = crate::users::version_and_updated_at(&app, &t.id, &t.admin, id).await;
    let before = crate::users::now_as_written();
    let accepted = app
        .client
        .post(app.url(&format!("/v1/tenants/{}/auth/accept-invitation", t.id)))
        .json(&json!({"token": invitation["token"], "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 204);
    let (next, updated_at, user) =
        crate::users::version_and_updated_at(&app, &t.id, &t.admin, id).await;
    assert_ne!(next, etag);
    assert!(updated_at >= before, "{updated_at} < {before}");
    assert_eq!(user["login"]["passwordChangedAt"], updated_at.as_str());
}
