//! The metrics listener: absent unless asked for; when asked for, it counts each
//! face's requests under their route templates, sign-ins by outcome, and reports the
//! database pools and the hashing threads.

use serde_json::json;

use crate::helpers::{TestApp, TestTenant, expect_json, expect_problem};
use crate::sign_in::{PASSWORD, login, user_with_password};

async fn spawn_with_metrics() -> TestApp {
    TestApp::spawn_with(|settings| settings.metrics_listen = Some("127.0.0.1:0".into())).await
}

/// The metrics in the Prometheus text format, as a scraper reads them.
async fn scrape(app: &TestApp) -> String {
    let addr = app.metrics_addr.expect("the metrics listener is bound");
    let response = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("the metrics answer");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.expect("the metrics are text")
}

/// The value of the one sample named `series` (its name and labels, as written), if
/// the text has it.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a sample's value is a number"))
}

fn requests(face: &str, route: &str, method: &str, status: u16) -> String {
    format!(
        "roster_http_requests_total{{face=\"{face}\",route=\"{route}\",method=\"{method}\",\
         status=\"{status}\"}}"
    )
}

async fn user_id(app: &TestApp, tenant: &TestTenant, email: &str) -> String {
    app.user(tenant, email).await["id"]
        .as_str()
        .expect("user id")
        .to_owned()
}

#[tokio::test]
async fn no_metrics_are_served_unless_a_metrics_address_is_set() {
    let app = TestApp::spawn().await;
    assert!(app.metrics_addr.is_none());
    let problem = expect_problem(
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        404,
    )
    .await;
    assert_eq!(problem["status"], 404);
}

#[tokio::test]
async fn the_api_listener_has_no_metrics_route_when_metrics_are_served() {
    let app = spawn_with_metrics().await;
    assert_ne!(app.metrics_addr, Some(app.addr));
    expect_problem(
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        404,
    )
    .await;
    let elsewhere = app
        .client
        .get(format!("http://{}/healthz", app.metrics_addr.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        elsewhere.status(),
        404,
        "the metrics listener serves only /metrics"
    );
}

#[tokio::test]
async fn requests_are_counted_by_face_under_their_route_templates() {
    let app = spawn_with_metrics().await;
    let tenant = app.tenant().await;
    let id = user_id(&app, &tenant, "ada@acme.com").await;

    let scim = app
        .get(&format!("/scim/v2/Users/{id}"), &tenant.admin)
        .await;
    assert_eq!(scim.status(), 200);
    let native = app
        .get(
            &format!("/v1/tenants/{}/users/{id}", tenant.id),
            &tenant.admin,
        )
        .await;
    assert_eq!(native.status(), 200);
    for _ in 0..2 {
        let tyk = app
            .client
            .get(app.url(&format!("/api/users/{id}")))
            .header("authorization", &tenant.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(tyk.status(), 200);
    }
    let missing = app
        .get(
            "/scim/v2/Users/00000000-0000-4000-8000-000000000000",
            &tenant.admin,
        )
        .await;
    assert_eq!(missing.status(), 404);

    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, &requests("scim", "/scim/v2/Users/{id}", "GET", 200)),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &requests("scim", "/scim/v2/Users/{id}", "GET", 404)),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &requests("tyk", "/api/users/{id}", "GET", 200)),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            &requests(
                "native",
                "/v1/tenants/{tenantId}/users/{userId}",
                "GET",
                200
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &requests("native", "/v1/tenants", "POST", 201)),
        Some(1.0)
    );
    let duration = "roster_http_request_duration_seconds_count{face=\"tyk\",\
                    route=\"/api/users/{id}\",method=\"GET\",status=\"200\"}";
    assert_eq!(sample(&text, duration), Some(2.0));
    assert!(!text.contains(&id), "no label holds an id");
    assert!(!text.contains(&tenant.id), "no label holds a tenant's id");
}

#[tokio::test]
async fn paths_no_route_matches_are_counted_under_one_label() {
    let app = spawn_with_metrics().await;
    for n in 0..20 {
        let response = app
            .client
            .get(app.url(&format!("/probe-{n}/wp-login.php")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
    let scim = app
        .client
        .get(app.url("/scim/v2/Nothing/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(scim.status(), 404);

    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, &requests("native", "unmatched", "GET", 404)),
        Some(20.0)
    );
    assert_eq!(
        sample(&text, &requests("scim", "unmatched", "GET", 404)),
        Some(1.0)
    );
    assert!(!text.contains("probe-"), "no path reaches a label");
}

#[tokio::test]
async fn sign_ins_are_counted_by_outcome() {
    let app = spawn_with_metrics().await;
    let tenant = app.tenant().await;
    user_with_password(&app, &tenant, "grace@acme.com", "member").await;
    let refused = login(&app, &tenant.id, "grace@acme.com", "not her password").await;
    expect_problem(refused, 401).await;
    let unknown = login(&app, &tenant.id, "nobody@acme.com", PASSWORD).await;
    expect_problem(unknown, 401).await;
    expect_json(
        login(&app, &tenant.id, "grace@acme.com", PASSWORD).await,
        200,
    )
    .await;

    let text = scrape(&app).await;
    let sign_ins = |outcome: &str| {
        sample(
            &text,
            &format!("roster_sign_ins_total{{kind=\"token\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(sign_ins("invalid_credentials"), Some(2.0));
    assert_eq!(sign_ins("success"), Some(1.0));
    assert_eq!(
        sign_ins("locked_out"),
        None,
        "outcomes not seen have no series"
    );
    // The user's password was hashed once and verified three times.
    let hashes = sample(&text, "roster_password_hash_queue_seconds_count").unwrap();
    assert!(hashes >= 4.0, "{hashes} hashes");
    assert_eq!(sample(&text, "roster_password_hashes_running"), Some(0.0));
    assert_eq!(sample(&text, "roster_password_hashes_queued"), Some(0.0));
    assert!(sample(&text, "roster_password_hash_threads").unwrap() >= 1.0);
}

#[tokio::test]
async fn the_database_pools_and_the_process_are_reported() {
    let app = spawn_with_metrics().await;
    let tenant = app.tenant().await;
    let created = app
        .post(
            &format!("/v1/tenants/{}/groups", tenant.id),
            &tenant.admin,
            &json!({"name": "Engineering"}),
        )
        .await;
    assert_eq!(created.status(), 201);

    let text = scrape(&app).await;
    let postgres = std::env::var("ROSTER_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty());
    let (reads, writes) = if postgres {
        ("postgres", "postgres")
    } else {
        ("sqlite_read", "sqlite_write")
    };
    for pool in [reads, writes] {
        let max = sample(
            &text,
            &format!("roster_db_connections_max{{pool=\"{pool}\"}}"),
        );
        assert!(max.is_some_and(|max| max >= 1.0), "{pool}: {text}");
        for state in ["in_use", "idle"] {
            let series = format!("roster_db_connections{{pool=\"{pool}\",state=\"{state}\"}}");
            assert!(sample(&text, &series).is_some(), "{series} missing");
        }
        let checkouts = sample(
            &text,
            &format!("roster_db_checkout_seconds_count{{pool=\"{pool}\"}}"),
        );
        assert!(
            checkouts.is_some_and(|n| n >= 1.0),
            "{pool} checkouts: {checkouts:?}"
        );
        let timeouts = format!("roster_db_checkout_timeouts_total{{pool=\"{pool}\"}}");
        assert_eq!(sample(&text, &timeouts), Some(0.0));
    }
    if cfg!(target_os = "linux") {
        assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|bytes| bytes > 0.0));
    }
}
