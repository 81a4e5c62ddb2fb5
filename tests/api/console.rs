//! The web console at /ui: sessions, CSRF, headers and who may see what, over HTTP;
//! then the flows a person goes through, in a real browser (headless Chromium),
//! with axe-core checking each page and a screenshot of each saved.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::browser::{Browser, DESKTOP, PHONE_WIDTH};
use crate::helpers::{OPERATOR_TOKEN, TestApp, TestTenant, expect_json};
use crate::sign_in::{PASSWORD, user_with_password};
use crate::two_factor::{current_step, totp};

/// A browser without JavaScript, as plain HTTP: keeps its cookies, follows no
/// redirect by itself, and fills each form's CSRF token from the page it came from.
struct Visitor {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
    /// The CSRF token of the last page read.
    csrf: String,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

impl Visitor {
    fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.url(""),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        for cookie in headers.get_all(SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.text().await.unwrap();
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[at + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Posts `form` with the CSRF token of the last page read.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf", &csrf));
        self.post_raw(path, &fields).await
    }

    /// Posts exactly `form`, CSRF token or not.
    async fn post_raw(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    async fn sign_in(&mut self, tenant: &str, email: &str, password: &str) -> Page {
        self.get(&format!("/ui/t/{tenant}/sign-in")).await;
        self.post(
            &format!("/ui/t/{tenant}/sign-in"),
            &[("email", email), ("password", password)],
        )
        .await
    }
}

async fn tenant_with_admin(app: &TestApp) -> (TestTenant, String) {
    let tenant = app.tenant().await;
    let admin = user_with_password(app, &tenant, "ada@example.com", "admin").await;
    (tenant, admin["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn console_pages_carry_a_strict_policy_and_the_session_cookie_is_guarded() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let mut visitor = Visitor::new(&app);
    let page = visitor.get(&format!("/ui/t/{}/sign-in", tenant.id)).await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert!(!page.body.contains("<script>"), "no inline script");
    let form_cookie = page.set_cookies().join("\n");
    assert!(form_cookie.contains("roster_form="), "{form_cookie}");

    let signed_in = visitor
        .post(
            &format!("/ui/t/{}/sign-in", tenant.id),
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let cookie = signed_in
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("roster_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/ui"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

    // Behind a trusted proxy that says the client came over TLS, the cookie is Secure.
    let proxied = TestApp::spawn_with(|s| {
        s.http.trusted_proxies =
            roster::http::credentials::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let (tenant, _) = tenant_with_admin(&proxied).await;
    let mut visitor = Visitor::new(&proxied);
    visitor.get(&format!("/ui/t/{}/sign-in", tenant.id)).await;
    let csrf = visitor.csrf.clone();
    let response = visitor
        .client
        .post(proxied.url(&format!("/ui/t/{}/sign-in", tenant.id)))
        .header("cookie", visitor.cookie_header())
        .header("x-forwarded-proto", "https")
        .form(&[
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let page = visitor.read(response).await;
    let cookie = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("roster_session="))
        .expect("a session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_change_without_its_csrf_token_is_refused_and_does_nothing() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let mut admin = Visitor::new(&app);
    assert_eq!(
        admin
            .sign_in(&tenant.id, "ada@example.com", PASSWORD)
            .await
            .status,
        303
    );
    let groups = format!("/ui/t/{}/groups", tenant.id);
    admin.get(&groups).await;

    let missing = admin.post_raw(&groups, &[("name", "forged")]).await;
    assert_eq!(missing.status, 403);
    assert!(missing.body.contains("Form expired"), "{}", missing.body);
    let wrong = admin
        .post_raw(&groups, &[("name", "forged"), ("csrf", "not-the-token")])
        .await;
    assert_eq!(wrong.status, 403);
    // A token from another browser's cookie is no better.
    let mut other = Visitor::new(&app);
    other.get(&format!("/ui/t/{}/sign-in", tenant.id)).await;
    let theirs = other.csrf.clone();
    let foreign = admin
        .post_raw(&groups, &[("name", "forged"), ("csrf", &theirs)])
        .await;
    assert_eq!(foreign.status, 403);
    let listed = expect_json(
        app.get(&format!("/v1/tenants/{}/groups", tenant.id), &tenant.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["items"], json!([]), "nothing was written");

    let made = admin.post(&groups, &[("name", "real")]).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let listed = expect_json(
        app.get(&format!("/v1/tenants/{}/groups", tenant.id), &tenant.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["name"], "real");

    // The sign-in form too: a form posted from elsewhere cannot sign anyone in.
    let mut stranger = Visitor::new(&app);
    let page = stranger
        .post_raw(
            &format!("/ui/t/{}/sign-in", tenant.id),
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(!stranger.cookies.contains_key("roster_session"));
}

#[tokio::test]
async fn members_see_only_their_account_and_no_key_opens_the_console() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    user_with_password(&app, &tenant, "max@example.com", "member").await;
    let mut member = Visitor::new(&app);
    let signed_in = member
        .sign_in(&tenant.id, "max@example.com", PASSWORD)
        .await;
    assert_eq!(signed_in.location(), format!("/ui/t/{}", tenant.id));
    let home = member.get(&format!("/ui/t/{}", tenant.id)).await;
    assert_eq!(home.location(), format!("/ui/t/{}/account", tenant.id));
    for page in [
        "users",
        "groups",
        "api-keys",
        "audit",
        "settings",
        "users/new",
    ] {
        let refused = member.get(&format!("/ui/t/{}/{page}", tenant.id)).await;
        assert_eq!(refused.status, 403, "{page}");
    }
    let refused = member
        .post(&format!("/ui/t/{}/groups", tenant.id), &[("name", "mine")])
        .await;
    assert_eq!(refused.status, 403);
    let account = format!("/ui/t/{}/account", tenant.id);
    assert_eq!(member.get(&account).await.status, 200);
    let renamed = member
        .post(
            &account,
            &[("first_name", "Maxine"), ("last_name", "Mustermann")],
        )
        .await;
    assert_eq!(renamed.status, 303, "a member changes its own names");
    assert!(
        member
            .get(&account)
            .await
            .body
            .contains("Maxine Mustermann")
    );
    assert_eq!(member.get("/ui/operator/tenants").await.status, 403);

    // Another tenant's console finds nothing of this one.
    let other = app.tenant().await;
    assert_eq!(
        member
            .get(&format!("/ui/t/{}/users", other.id))
            .await
            .status,
        404
    );

    // API keys and tokens are for the APIs: the console knows only its sessions.
    let reader = app.api_key(&tenant.id, "reader").await;
    for bearer in [reader.as_str(), tenant.admin.as_str(), OPERATOR_TOKEN] {
        let response = Visitor::new(&app)
            .client
            .get(app.url(&format!("/ui/t/{}/users", tenant.id)))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(
            response.headers()[LOCATION],
            format!("/ui/t/{}/sign-in", tenant.id)
        );
    }
}

#[tokio::test]
async fn sign_in_tells_nothing_about_which_emails_exist_and_locks_like_the_api() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let mut visitor = Visitor::new(&app);
    let unknown = visitor
        .sign_in(&tenant.id, "nobody@example.com", PASSWORD)
        .await;
    let wrong = visitor
        .sign_in(&tenant.id, "ada@example.com", "wrong password")
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.status, 401);
    let message = "The email or password is not right.";
    assert!(unknown.body.contains(message) && wrong.body.contains(message));
    for _ in 0..4 {
        visitor
            .sign_in(&tenant.id, "ada@example.com", "wrong password")
            .await;
    }
    let locked = visitor
        .sign_in(&tenant.id, "ada@example.com", PASSWORD)
        .await;
    assert_eq!(locked.status, 401);
    assert!(locked.body.contains("locked"), "{}", locked.body);
}

#[tokio::test]
async fn a_session_ends_at_sign_out_and_past_its_timeouts() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let users = format!("/ui/t/{}/users", tenant.id);
    let mut admin = Visitor::new(&app);
    admin.sign_in(&tenant.id, "ada@example.com", PASSWORD).await;
    assert_eq!(admin.get(&users).await.status, 200);
    let cookie = admin.cookies["roster_session"].clone();
    let out = admin.post("/ui/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    assert!(
        !admin.cookies.contains_key("roster_session"),
        "the cookie is cleared"
    );
    // The old cookie, kept by an attacker, opens nothing any more.
    admin.cookies.insert("roster_session".into(), cookie);
    assert_eq!(admin.get(&users).await.status, 303);

    for (idle, absolute) in [(0, 3600), (3600, 0)] {
        let app = TestApp::spawn_with(|s| {
            s.sessions.idle_seconds = idle;
            s.sessions.absolute_seconds = absolute;
        })
        .await;
        let (tenant, _) = tenant_with_admin(&app).await;
        let mut admin = Visitor::new(&app);
        assert_eq!(
            admin
                .sign_in(&tenant.id, "ada@example.com", PASSWORD)
                .await
                .status,
            303
        );
        let page = admin.get(&format!("/ui/t/{}/users", tenant.id)).await;
        assert_eq!(page.status, 303, "idle {idle} s, absolute {absolute} s");
        assert_eq!(page.location(), format!("/ui/t/{}/sign-in", tenant.id));
    }
}

#[tokio::test]
async fn a_forgotten_password_is_reset_from_the_mailed_link_once() {
    let (app, mail) = TestApp::spawn_with_mail().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let t = tenant.id.as_str();
    // A session signed in with the old password, to be ended by the reset.
    let mut before = Visitor::new(&app);
    before.sign_in(t, "ada@example.com", PASSWORD).await;
    let users = format!("/ui/t/{t}/users");
    assert_eq!(before.get(&users).await.status, 200);
    let forgot = format!("/ui/t/{t}/forgot-password");
    let mut visitor = Visitor::new(&app);
    visitor.get(&forgot).await;
    let unknown = visitor
        .post(&forgot, &[("email", "nobody@example.com")])
        .await;
    visitor.get(&forgot).await;
    let known = visitor.post(&forgot, &[("email", "ada@example.com")]).await;
    assert_eq!(
        (unknown.status, known.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(unknown.body, known.body, "the same answer either way");
    let message = mail.message(1).await;
    assert_eq!(mail.messages().len(), 1, "no mail for an unknown address");
    let link = message.link();
    let path = link
        .strip_prefix(&app.url(""))
        .expect("a link to this server");
    let token = message.token();
    assert_eq!(visitor.get(path).await.status, 200);
    let reset_path = format!("/ui/t/{t}/reset-password");
    let new_password = [
        ("token", token.as_str()),
        ("password", "a brand new passphrase"),
        ("confirm", "a brand new passphrase"),
    ];
    let reset = visitor.post(&reset_path, &new_password).await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    assert_eq!(
        reset.location(),
        format!("/ui/t/{t}/sign-in?reason=password-set")
    );
    visitor.get(path).await;
    let again = visitor.post(&reset_path, &new_password).await;
    assert_eq!(again.status, 400, "the link works once");
    assert_eq!(
        before.get(&users).await.status,
        303,
        "the old session ended"
    );
    let signed_in = visitor
        .sign_in(t, "ada@example.com", "a brand new passphrase")
        .await;
    assert_eq!(signed_in.status, 303);
}

#[tokio::test]
async fn a_disabled_users_session_ends_at_once() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let member = user_with_password(&app, &tenant, "max@example.com", "member").await;
    let mut visitor = Visitor::new(&app);
    visitor
        .sign_in(&tenant.id, "max@example.com", PASSWORD)
        .await;
    let account = format!("/ui/t/{}/account", tenant.id);
    assert_eq!(visitor.get(&account).await.status, 200);
    let path = format!(
        "/v1/tenants/{}/users/{}",
        tenant.id,
        member["id"].as_str().unwrap()
    );
    expect_json(
        app.patch(&path, &tenant.admin, &json!({"status": "disabled"}))
            .await,
        200,
    )
    .await;
    assert_eq!(visitor.get(&account).await.status, 303);
}

/// The id at the end of a `Location` like `/ui/t/{t}/groups/{id}?done=…`.
fn id_in(location: &str) -> String {
    location
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_admin_manages_users_attributes_and_groups_in_the_console() {
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let t = tenant.id.as_str();
    let api = |path: &str| format!("/v1/tenants/{t}{path}");
    for declaration in [
        json!({"name": "seniority", "type": "integer"}),
        json!({"name": "skills", "type": "string", "multiValued": true}),
        json!({"name": "remote", "type": "boolean"}),
    ] {
        expect_json(
            app.post(&api("/attributes"), &tenant.admin, &declaration)
                .await,
            201,
        )
        .await;
    }
    let mut admin = Visitor::new(&app);
    admin.sign_in(t, "ada@example.com", PASSWORD).await;

    // A user with a password set now.
    admin.get(&format!("/ui/t/{t}/users/new")).await;
    let created = admin
        .post(
            &format!("/ui/t/{t}/users"),
            &[
                ("email", "lin@example.com"),
                ("first_name", "Lin"),
                ("last_name", "Lee"),
                ("role", "member"),
                ("access", "password"),
                ("password", "another long passphrase"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let user = id_in(created.location());
    let page = format!("/ui/t/{t}/users/{user}");
    assert!(admin.get(&page).await.body.contains("lin@example.com"));
    let duplicate = admin
        .post(
            &format!("/ui/t/{t}/users"),
            &[
                ("email", "LIN@example.com"),
                ("first_name", "L"),
                ("last_name", "L"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(duplicate.status, 400);

    // Its profile, role and declared attributes; a wrong value is refused with why.
    admin.get(&page).await;
    let saved = admin
        .post(
            &page,
            &[
                ("first_name", "Linh"),
                ("last_name", "Lee"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    admin.get(&page).await;
    let saved = admin
        .post(
            &format!("{page}/attributes"),
            &[
                ("attr.seniority", "3"),
                ("attr.skills", "rust\nsql\n"),
                ("attr.remote", "true"),
            ],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let stored = expect_json(
        app.get(&api(&format!("/users/{user}")), &tenant.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(stored["firstName"], "Linh");
    assert_eq!(stored["role"], "admin");
    assert_eq!(
        stored["attributes"],
        json!({"seniority": 3, "skills": ["rust", "sql"], "remote": true})
    );
    let refused = admin
        .post(&format!("{page}/attributes"), &[("attr.seniority", "many")])
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("seniority"), "{}", refused.body);
    let unchanged = expect_json(
        app.get(&api(&format!("/users/{user}")), &tenant.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(unchanged["attributes"]["seniority"], 3);

    // Disable, enable, unlock.
    for (action, status) in [("disable", "disabled"), ("enable", "active")] {
        admin.get(&page).await;
        assert_eq!(
            admin.post(&format!("{page}/{action}"), &[]).await.status,
            303
        );
        let stored = expect_json(
            app.get(&api(&format!("/users/{user}")), &tenant.admin)
                .await,
            200,
        )
        .await;
        assert_eq!(stored["status"], status);
    }
    assert_eq!(admin.post(&format!("{page}/unlock"), &[]).await.status, 303);

    // Groups: create, add the user by email, nest, refuse a cycle, remove, delete.
    let groups = format!("/ui/t/{t}/groups");
    admin.get(&groups).await;
    let eng = id_in(
        admin
            .post(&groups, &[("name", "Engineering")])
            .await
            .location(),
    );
    let org = id_in(admin.post(&groups, &[("name", "Company")]).await.location());
    let eng_page = format!("{groups}/{eng}");
    let org_page = format!("{groups}/{org}");
    admin.get(&eng_page).await;
    let picker = admin.get(&format!("/ui/t/{t}/user-picker?email=lin")).await;
    assert!(picker.body.contains("lin@example.com"), "{}", picker.body);
    assert_eq!(
        admin
            .post(
                &format!("{eng_page}/members"),
                &[("email", "lin@example.com")]
            )
            .await
            .status,
        303
    );
    assert_eq!(
        admin
            .post(&format!("{org_page}/members"), &[("group", &eng)])
            .await
            .status,
        303
    );
    let cycle = admin
        .post(&format!("{eng_page}/members"), &[("group", &org)])
        .await;
    assert_eq!(cycle.status, 409, "{}", cycle.body);
    let members = expect_json(
        app.get(&api(&format!("/groups/{org}/members")), &tenant.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(
        members["items"][0]["email"], "lin@example.com",
        "effective through nesting"
    );
    assert!(admin.get(&org_page).await.body.contains("Engineering"));
    assert_eq!(
        admin
            .post(
                &format!("{eng_page}/members/{user}/remove"),
                &[("kind", "user")]
            )
            .await
            .status,
        303
    );
    assert_eq!(
        admin.post(&format!("{eng_page}/delete"), &[]).await.status,
        303
    );
    let left = expect_json(app.get(&api("/groups"), &tenant.admin).await, 200).await;
    assert_eq!(left["items"].as_array().unwrap().len(), 1);

    // The audit log shows what was done, filtered by action.
    let audit = admin
        .get(&format!("/ui/t/{t}/audit?action=user.create"))
        .await;
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains(&user), "{}", audit.body);
    assert!(audit.body.contains("<td>user.create</td>"));
    assert!(
        !audit.body.contains("<td>group.create</td>"),
        "only the action asked for"
    );
    let bad = admin.get(&format!("/ui/t/{t}/audit?since=yesterday")).await;
    assert!(bad.body.contains("From must be a time"), "{}", bad.body);

    // And the user goes.
    admin.get(&page).await;
    assert_eq!(admin.post(&format!("{page}/delete"), &[]).await.status, 303);
    assert_eq!(
        app.get(&api(&format!("/users/{user}")), &tenant.admin)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_operator_signs_in_and_manages_tenants() {
    let app = TestApp::spawn().await;
    let mut operator = Visitor::new(&app);
    operator.get("/ui/operator/sign-in").await;
    let refused = operator
        .post("/ui/operator/sign-in", &[("credential", "not the token")])
        .await;
    assert_eq!(refused.status, 401);
    let signed_in = operator
        .post("/ui/operator/sign-in", &[("credential", OPERATOR_TOKEN)])
        .await;
    assert_eq!(signed_in.location(), "/ui/operator/tenants");
    operator.get("/ui/operator/tenants").await;
    let created = operator
        .post("/ui/operator/tenants", &[("name", "Initech")])
        .await;
    assert_eq!(created.status, 303);
    let tenant = created.location().split('/').nth(3).unwrap().to_owned();
    assert_eq!(
        operator.get(&format!("/ui/t/{tenant}/users")).await.status,
        200,
        "the operator administers every tenant"
    );
    operator.get("/ui/operator/tenants").await;
    operator
        .post(
            &format!("/ui/operator/tenants/{tenant}"),
            &[("name", "Initrode")],
        )
        .await;
    assert!(
        operator
            .get("/ui/operator/tenants")
            .await
            .body
            .contains("Initrode")
    );
    let deleted = operator
        .post(&format!("/ui/operator/tenants/{tenant}/delete"), &[])
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(
        app.get(&format!("/v1/tenants/{tenant}"), OPERATOR_TOKEN)
            .await
            .status(),
        404
    );
}

// ---- In a real browser ----

/// Signs in through the browser's form and waits for the page after it.
async fn browser_sign_in(
    browser: &Browser,
    app: &TestApp,
    tenant: &str,
    email: &str,
    password: &str,
) {
    browser
        .goto(&app.url(&format!("/ui/t/{tenant}/sign-in")))
        .await;
    browser.fill("Email", email).await;
    browser.fill("Password", password).await;
    browser.click_button("Sign in").await;
}

/// Checks the page with axe at desktop and phone widths, and keeps its screenshot at
/// each.
async fn look_at(browser: &Browser, name: &str) {
    browser.assert_accessible(name).await;
    browser.screenshot(name).await;
    browser.resize(PHONE_WIDTH, DESKTOP.1).await;
    browser
        .assert_accessible(&format!("{name} at {PHONE_WIDTH} px"))
        .await;
    browser.screenshot(&format!("{name}-{PHONE_WIDTH}px")).await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
}

#[tokio::test]
async fn an_admin_with_totp_invites_a_user_who_accepts_signs_in_and_enrols_totp() {
    let Some(admin) = Browser::open().await else {
        return;
    };
    let (app, mail) = TestApp::spawn_with_mail().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let t = tenant.id.as_str();

    // The admin turns on two-factor sign-in in the console.
    browser_sign_in(&admin, &app, t, "ada@example.com", PASSWORD).await;
    // The sign-in page has a heading too: wait for the users' page itself.
    admin.wait_for_url_ending(&format!("/ui/t/{t}/users")).await;
    admin.wait_for("h1").await;
    look_at(&admin, "users").await;
    admin
        .goto(&app.url(&format!("/ui/t/{t}/account/two-factor")))
        .await;
    look_at(&admin, "account-two-factor").await;
    admin.fill("Your password", PASSWORD).await;
    admin.click_button("Show my QR code").await;
    admin.wait_for("#totp-secret").await;
    look_at(&admin, "account-two-factor-enrol").await;
    let secret = admin.text_of("#totp-secret").await;
    let step = current_step();
    admin
        .fill("The code your app shows", &totp(&secret, step))
        .await;
    admin.click_button("Turn on").await;
    admin.wait_for("#recovery-codes").await;
    look_at(&admin, "account-recovery-codes").await;

    // It signs out and in again, now with a code.
    admin.click_button("Sign out").await;
    admin.wait_for("#email").await;
    browser_sign_in(&admin, &app, t, "ada@example.com", PASSWORD).await;
    admin.wait_for("#code").await;
    look_at(&admin, "sign-in-code").await;
    admin.fill("Code", &totp(&secret, step + 1)).await;
    admin.click_button("Verify").await;
    admin.wait_for("#results").await;

    // It creates a user and invites them.
    admin.goto(&app.url(&format!("/ui/t/{t}/users/new"))).await;
    look_at(&admin, "user-new").await;
    admin.fill("Email", "grace@example.com").await;
    admin.fill("First name", "Grace").await;
    admin.fill("Last name", "Hopper").await;
    admin.click_button("Create user").await;
    admin.wait_for(".success").await;
    assert!(
        admin
            .text_of(".success")
            .await
            .contains("mailed to grace@example.com")
    );
    look_at(&admin, "user-invited").await;
    let invitation = mail.message(1).await;
    let link = invitation.link();
    assert!(
        link.starts_with(&app.url(&format!("/ui/t/{t}/accept-invitation?token="))),
        "{link}"
    );

    // The invitee, in a browser of its own, sets a password from the mail's link and
    // signs in.
    let Some(invitee) = Browser::open().await else {
        return;
    };
    invitee.goto(&link).await;
    look_at(&invitee, "accept-invitation").await;
    invitee
        .fill("New password", "a long and new passphrase")
        .await;
    invitee
        .fill("New password again", "a long and new passphrase")
        .await;
    invitee.click_button("Set password").await;
    invitee.wait_for(".notice").await;
    assert!(
        invitee
            .text_of(".notice")
            .await
            .contains("Your password is set")
    );
    look_at(&invitee, "sign-in").await;
    invitee.fill("Email", "grace@example.com").await;
    invitee.fill("Password", "a long and new passphrase").await;
    invitee.click_button("Sign in").await;
    invitee.wait_for("dl.facts").await;
    assert!(
        invitee
            .current_url()
            .await
            .ends_with(&format!("/ui/t/{t}/account"))
    );
    look_at(&invitee, "account").await;

    // It enrols TOTP and signs in again with it.
    invitee.click_link("Two-factor sign-in").await;
    invitee.wait_for("#tf-password").await;
    invitee
        .fill("Your password", "a long and new passphrase")
        .await;
    invitee.click_button("Show my QR code").await;
    invitee.wait_for("#totp-secret").await;
    let secret = invitee.text_of("#totp-secret").await;
    let step = current_step();
    invitee
        .fill("The code your app shows", &totp(&secret, step))
        .await;
    invitee.click_button("Turn on").await;
    invitee.wait_for("#recovery-codes").await;
    invitee.click_button("Sign out").await;
    invitee.wait_for("#email").await;
    browser_sign_in(
        &invitee,
        &app,
        t,
        "grace@example.com",
        "a long and new passphrase",
    )
    .await;
    invitee.wait_for("#code").await;
    invitee.fill("Code", &totp(&secret, step + 1)).await;
    invitee.click_button("Verify").await;
    invitee.wait_for("dl.facts").await;
    assert!(
        invitee
            .current_url()
            .await
            .ends_with(&format!("/ui/t/{t}/account"))
    );

    // The session cookie as the browser keeps it.
    let cookie = invitee
        .cookie("roster_session")
        .await
        .expect("a session cookie");
    assert!(cookie.http_only);
    invitee.close().await;
    admin.close().await;
}

#[tokio::test]
async fn signing_out_everywhere_ends_the_session_in_another_browser() {
    let Some(laptop) = Browser::open().await else {
        return;
    };
    let Some(phone) = Browser::open().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (tenant, _) = tenant_with_admin(&app).await;
    let t = tenant.id.as_str();
    phone.resize(PHONE_WIDTH, 800).await;
    browser_sign_in(&phone, &app, t, "ada@example.com", PASSWORD).await;
    phone.wait_for("#results").await;
    browser_sign_in(&laptop, &app, t, "ada@example.com", PASSWORD).await;
    laptop.wait_for("#results").await;

    laptop
        .goto(&app.url(&format!("/ui/t/{t}/account/sessions")))
        .await;
    laptop.wait_for("table").await;
    look_at(&laptop, "account-sessions").await;
    let rows = laptop
        .execute("return document.querySelectorAll('tbody tr').length")
        .await;
    assert_eq!(rows, json!(2), "both browsers' sessions are listed");
    laptop.click_button("Sign out everywhere").await;
    laptop.wait_for("#email").await;

    phone.goto(&app.url(&format!("/ui/t/{t}/users"))).await;
    phone.wait_for("#email").await;
    assert!(
        phone
            .current_url()
            .await
            .ends_with(&format!("/ui/t/{t}/sign-in"))
    );
    phone.close().await;
    laptop.close().await;
}

#[tokio::test]
async fn every_admin_and_operator_page_passes_axe_at_both_widths() {
    let Some(browser) = Browser::open().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (tenant, admin_id) = tenant_with_admin(&app).await;
    let t = tenant.id.as_str();
    let group = app.group(&tenant, "Engineering").await;
    let group_id = group["id"].as_str().unwrap();
    app.put(
        &format!("/v1/tenants/{t}/groups/{group_id}/members/{admin_id}"),
        &tenant.admin,
    )
    .await;
    app.api_key(t, "reader").await;

    browser.goto(&app.url("/ui")).await;
    look_at(&browser, "landing").await;
    for (name, path) in [
        ("forgot-password", format!("/ui/t/{t}/forgot-password")),
        (
            "reset-password",
            format!("/ui/t/{t}/reset-password?token=x"),
        ),
        ("not-found", format!("/ui/t/{t}/no-such-page")),
    ] {
        browser.goto(&app.url(&path)).await;
        browser.wait_for("main h1").await;
        look_at(&browser, name).await;
    }
    browser_sign_in(&browser, &app, t, "ada@example.com", PASSWORD).await;
    browser.wait_for("#results").await;
    for (name, path) in [
        ("user", format!("/ui/t/{t}/users/{admin_id}")),
        ("groups", format!("/ui/t/{t}/groups")),
        ("group", format!("/ui/t/{t}/groups/{group_id}")),
        ("api-keys", format!("/ui/t/{t}/api-keys")),
        ("audit", format!("/ui/t/{t}/audit")),
        ("settings", format!("/ui/t/{t}/settings")),
        ("account-password", format!("/ui/t/{t}/account/password")),
    ] {
        browser.goto(&app.url(&path)).await;
        browser.wait_for("main h1").await;
        look_at(&browser, name).await;
    }

    // Search as you type: htmx replaces the results without a page load.
    browser.goto(&app.url(&format!("/ui/t/{t}/users"))).await;
    browser.fill("Search", "nobody").await;
    browser.wait_for("#no-match").await;

    // A form whose CSRF token is gone (as one posted from another site would be) is
    // refused, and nothing is made.
    browser.goto(&app.url(&format!("/ui/t/{t}/groups"))).await;
    browser
        .execute("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
        .await;
    browser.fill("New group's name", "Forged").await;
    browser.click_button("Create group").await;
    browser.wait_for_text("main h1", "Form expired").await;
    let groups = expect_json(
        app.get(&format!("/v1/tenants/{t}/groups"), &tenant.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(
        groups["items"].as_array().unwrap().len(),
        1,
        "nothing was made"
    );

    // An API key made in the console: its secret shown once, and it works.
    browser.goto(&app.url(&format!("/ui/t/{t}/api-keys"))).await;
    browser.fill("Name", "deploy").await;
    browser.click_button("Create key").await;
    browser.wait_for("#new-key-secret").await;
    look_at(&browser, "api-key-created").await;
    let secret = browser.text_of("#new-key-secret").await;
    assert_eq!(
        app.get(&format!("/v1/tenants/{t}/users"), &secret)
            .await
            .status(),
        200
    );
    browser.click_button("Sign out").await;
    browser.wait_for("#email").await;

    // The operator's pages.
    browser.goto(&app.url("/ui/operator/sign-in")).await;
    look_at(&browser, "operator-sign-in").await;
    browser.fill("Operator credential", OPERATOR_TOKEN).await;
    browser.click_button("Sign in").await;
    browser.wait_for("table").await;
    look_at(&browser, "tenants").await;
    browser.goto(&app.url("/ui/operator/sessions")).await;
    browser.wait_for("table").await;
    look_at(&browser, "operator-sessions").await;
    browser.close().await;
}
