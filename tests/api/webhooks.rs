//! Webhooks: subscriptions managed through /v1, each change delivered in order to a
//! real receiver on port 0, signed as Standard Webhooks says, retried and disabled,
//! refused for private destinations unless allowed, delivered once by two instances.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use roster::config::ServeSettings;
use roster::domain::Networks;
use roster::webhooks::AllowedNetworks;

use crate::helpers::{
    OPERATOR_TOKEN, ServerProcess, TestApp, TestDatabase, TestTenant, expect_json, expect_problem,
    problem_fields,
};

/// One request the receiver took.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Delivery {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook receiver on 127.0.0.1 port 0: records each request, answers `status`.
pub(crate) struct Receiver {
    pub(crate) url: String,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    status: Arc<AtomicU16>,
    /// How long it takes to answer, in milliseconds.
    delay_ms: Arc<AtomicU64>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let deliveries: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(204));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let deliveries = deliveries.clone();
                let status = status.clone();
                let delay_ms = delay_ms.clone();
                move |headers: axum::http::HeaderMap, body: String| async move {
                    let header = |name: &str| {
                        (headers.get(name).and_then(|v| v.to_str().ok()))
                            .unwrap_or_default()
                            .to_owned()
                    };
                    deliveries.lock().unwrap().push(Delivery {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body,
                    });
                    let delay = delay_ms.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    axum::http::StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            deliveries,
            status,
            delay_ms,
            _server: server,
        }
    }

    pub(crate) fn received(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// The deliveries once there are at least `count` (at most 30 s).
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        for _ in 0..300 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{count} deliveries expected, {} came",
            self.received().len()
        );
    }
}

/// Deliveries may reach 127.0.0.1, and failures are retried within a second.
fn allow_loopback(settings: &mut ServeSettings) {
    settings.webhooks.allowed_networks =
        AllowedNetworks::new(Networks::parse("127.0.0.1").unwrap());
    settings.webhooks.first_retry = Duration::from_millis(100);
    settings.webhooks.longest_retry = Duration::from_millis(400);
}

async fn subscribe(app: &TestApp, t: &TestTenant, body: Value) -> Value {
    let path = format!("/v1/tenants/{}/webhooks", t.id);
    expect_json(app.post(&path, &t.admin, &body).await, 201).await
}

/// Whether `delivery` is signed by `secret` (Standard Webhooks, by hand).
fn signed_by(delivery: &Delivery, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", delivery.id, delivery.timestamp, delivery.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    delivery.signature.split(' ').any(|s| s == expected)
}

async fn webhook(app: &TestApp, t: &TestTenant, id: &str) -> Value {
    let path = format!("/v1/tenants/{}/webhooks/{id}", t.id);
    expect_json(app.get(&path, &t.admin).await, 200).await
}

async fn attempts(app: &TestApp, t: &TestTenant, id: &str) -> Vec<Value> {
    let path = format!("/v1/tenants/{}/webhooks/{id}/attempts?limit=1000", t.id);
    let page = expect_json(app.get(&path, &t.admin).await, 200).await;
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_change_is_delivered_once_in_order_and_signed() {
    let app = TestApp::spawn_with(allow_loopback).await;
    let t = app.tenant().await;
    // A change before the subscription is not delivered.
    app.user(&t, "before@acme.com").await;
    let receiver = Receiver::start().await;
    let all = subscribe(&app, &t, json!({"url": receiver.url})).await;
    let secret = all["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{all}");
    let groups_only = Receiver::start().await;
    let url = &groups_only.url;
    subscribe(
        &app,
        &t,
        json!({"url": url, "eventTypes": ["group.created"]}),
    )
    .await;

    let user = app.user(&t, "ada@acme.com").await;
    let uid = user["id"].as_str().unwrap();
    let users = format!("/v1/tenants/{}/users/{uid}", t.id);
    expect_json(
        app.patch(&users, &t.admin, &json!({"lastName": "L"})).await,
        200,
    )
    .await;
    let group = app.group(&t, "Engines").await;
    let gid = group["id"].as_str().unwrap();
    let member = format!("/v1/tenants/{}/groups/{gid}/members/{uid}", t.id);
    assert_eq!(app.put(&member, &t.admin).await.status(), 204);

    let delivered = receiver.wait_for(4).await;
    let types: Vec<Value> = delivered.iter().map(|d| d.json()["type"].clone()).collect();
    assert_eq!(
        types,
        [
            "user.created",
            "user.updated",
            "group.created",
            "group.member_added"
        ]
    );
    let feed = expect_json(
        app.get(&format!("/v1/tenants/{}/events?after=1", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    for (delivery, event) in delivered.iter().zip(feed["events"].as_array().unwrap()) {
        assert!(signed_by(delivery, &secret), "{delivery:?}");
        assert_eq!(delivery.id, event["id"].as_str().unwrap());
        let body = delivery.json();
        assert_eq!(body["timestamp"], event["occurredAt"]);
        let mut data = body["data"].clone();
        assert_eq!(data["tenantId"], t.id.as_str());
        data.as_object_mut().unwrap().remove("tenantId");
        assert_eq!(&data, event, "the data is the event as the feed shows it");
    }
    let grouped = groups_only.wait_for(1).await;
    assert_eq!(grouped[0].json()["type"], "group.created");

    let id = all["id"].as_str().unwrap();
    let log = attempts(&app, &t, id).await;
    assert_eq!(log.len(), 4);
    assert!(
        log.iter()
            .all(|a| a["status"] == 204 && a["error"].is_null()),
        "{log:?}"
    );
    let state = webhook(&app, &t, id).await;
    assert_eq!(state["deliveredThrough"], "5");
    assert!(state.get("secret").is_none(), "the secret is shown once");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 4, "nothing twice");
    assert_eq!(groups_only.received().len(), 1);

    // The log is kept as long as the feed's events.
    let later = roster::domain::Timestamp::now().plus_seconds(1);
    assert_eq!(
        app.store()
            .await
            .prune_webhook_attempts(later)
            .await
            .unwrap(),
        5
    );
    assert!(attempts(&app, &t, id).await.is_empty());
}

#[tokio::test]
async fn a_failing_receiver_is_retried_then_the_subscription_disabled_and_resumed() {
    let app = TestApp::spawn_with(|settings| {
        allow_loopback(settings);
        settings.webhooks.give_up_after = Duration::from_secs(2);
    })
    .await;
    let t = app.tenant().await;
    let receiver = Receiver::start().await;
    receiver.status.store(503, Ordering::SeqCst);
    let made = subscribe(&app, &t, json!({"url": receiver.url})).await;
    let id = made["id"].as_str().unwrap();
    app.user(&t, "a@acme.com").await;
    app.user(&t, "b@acme.com").await;

    let mut state = webhook(&app, &t, id).await;
    for _ in 0..100 {
        if state["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        state = webhook(&app, &t, id).await;
    }
    assert_eq!(state["enabled"], false, "{state}");
    let reason = state["disabledReason"].as_str().unwrap();
    assert!(reason.contains("503"), "{reason}");
    let tried = receiver.received();
    assert!(tried.len() >= 3, "retried: {}", tried.len());
    assert!(
        tried.iter().all(|d| d.id == tried[0].id),
        "the first event alone, again and again"
    );
    let log = attempts(&app, &t, id).await;
    assert_eq!(log.len(), tried.len());
    assert!(
        log.iter()
            .all(|a| a["status"] == 503 && a["error"].is_string())
    );
    assert_eq!(state["deliveredThrough"], "0");

    // Enabled again, with the receiver well: both events, in order, the first with
    // the id it was tried under.
    receiver.status.store(200, Ordering::SeqCst);
    let path = format!("/v1/tenants/{}/webhooks/{id}", t.id);
    let resumed = expect_json(
        app.patch(&path, &t.admin, &json!({"enabled": true})).await,
        200,
    )
    .await;
    assert_eq!(resumed["failures"], 0);
    assert!(resumed["disabledReason"].is_null());
    let all = receiver.wait_for(tried.len() + 2).await;
    let last_two = &all[all.len() - 2..];
    assert_eq!(last_two[0].id, tried[0].id);
    assert_eq!(last_two[1].json()["data"]["position"], "2");
    assert_eq!(webhook(&app, &t, id).await["deliveredThrough"], "2");

    // Sent again from the start on request.
    let redeliver = format!("/v1/tenants/{}/webhooks/{id}/redeliver", t.id);
    expect_json(
        app.post(&redeliver, &t.admin, &json!({"after": "0"})).await,
        200,
    )
    .await;
    let again = receiver.wait_for(all.len() + 2).await;
    let ids = |d: &[Delivery]| d.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again[all.len()..]), ids(last_two));
    let beyond = json!({"after": "3"});
    let problem = expect_problem(app.post(&redeliver, &t.admin, &beyond).await, 400).await;
    assert_eq!(problem_fields(&problem), ["after"]);
}

#[tokio::test]
async fn private_destinations_are_refused_unless_the_operator_allows_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let receiver = Receiver::start().await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let by_address = subscribe(&app, &t, json!({"url": receiver.url})).await;
    let by_name = subscribe(&app, &t, json!({"url": by_name})).await;
    app.user(&t, "a@acme.com").await;
    for made in [by_address, by_name] {
        let id = made["id"].as_str().unwrap();
        let mut log = attempts(&app, &t, id).await;
        for _ in 0..100 {
            if !log.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            log = attempts(&app, &t, id).await;
        }
        let error = log[0]["error"].as_str().expect("a refused attempt");
        assert!(error.contains("may not reach"), "{error}");
        assert!(log[0]["status"].is_null());
    }
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn admins_manage_subscriptions_and_their_secrets() {
    let app = TestApp::spawn_with(allow_loopback).await;
    let t = app.tenant().await;
    let path = format!("/v1/tenants/{}/webhooks", t.id);
    for (body, field) in [
        (json!({"url": "ftp://example.com/"}), "url"),
        (json!({"url": "https://user:pw@example.com/"}), "url"),
        (
            json!({"url": "https://example.com/", "eventTypes": ["user.exploded"]}),
            "eventTypes",
        ),
    ] {
        let problem = expect_problem(app.post(&path, &t.admin, &body).await, 400).await;
        assert_eq!(problem_fields(&problem), [field], "{body}");
    }
    let reader = app.api_key(&t.id, "reader").await;
    let body = json!({"url": "https://example.com/hook"});
    expect_problem(app.post(&path, &reader, &body).await, 403).await;
    expect_problem(app.get(&path, &reader).await, 403).await;
    let other = app.tenant().await;
    expect_problem(app.get(&path, &other.admin).await, 404).await;

    let receiver = Receiver::start().await;
    let made = subscribe(&app, &t, json!({"url": receiver.url, "enabled": false})).await;
    let id = made["id"].as_str().unwrap();
    let first = made["secret"].as_str().unwrap().to_owned();
    let listed = expect_json(app.get(&path, &t.admin).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(listed["items"][0].get("secret").is_none());

    // Disabled, it delivers nothing; enabled, it delivers what came meanwhile.
    app.user(&t, "a@acme.com").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.received().is_empty());
    let rotated = expect_json(
        app.post(&format!("{path}/{id}/secret"), &t.admin, &json!({}))
            .await,
        200,
    )
    .await;
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let one = format!("{path}/{id}");
    expect_json(
        app.patch(&one, &t.admin, &json!({"enabled": true})).await,
        200,
    )
    .await;
    let delivered = receiver.wait_for(1).await;
    assert!(
        signed_by(&delivered[0], &second),
        "signed by the new secret"
    );
    assert!(
        signed_by(&delivered[0], &first),
        "and, for a while, by the old one"
    );

    let audit = expect_json(
        app.get(
            &format!("/v1/tenants/{}/audit-events?limit=1000", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    let actions: Vec<&str> = (audit["items"].as_array().unwrap().iter())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["webhook.create", "webhook.secret.rotate", "webhook.update"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(
        !audit.to_string().contains(&second),
        "no secret in the audit log"
    );

    assert_eq!(app.delete(&one, &t.admin).await.status(), 204);
    expect_problem(app.get(&one, &t.admin).await, 404).await;
    expect_problem(app.delete(&one, &t.admin).await, 404).await;
}

#[tokio::test]
async fn two_instances_deliver_each_event_once_in_order() {
    let app = TestApp::spawn_with(allow_loopback).await;
    let other = app.spawn_sharing(allow_loopback).await;
    let t = app.tenant().await;
    let receiver = Receiver::start().await;
    subscribe(&app, &t, json!({"url": receiver.url})).await;
    for i in 0..30 {
        let instance = if i % 2 == 0 { &app } else { &other };
        instance.user(&t, &format!("u{i}@acme.com")).await;
    }
    let delivered = receiver.wait_for(30).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let delivered = receiver.received().len().max(delivered.len());
    let received = receiver.received();
    assert_eq!(delivered, 30, "none twice");
    let positions: Vec<u64> = (received.iter())
        .map(|d| {
            d.json()["data"]["position"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(positions, (1..=30).collect::<Vec<_>>(), "in order");
}

/// A tenant and an admin key of it, made through a server process.
pub(crate) async fn process_tenant(server: &ServerProcess) -> TestTenant {
    let client = reqwest::Client::new();
    let tenant: Value = (client.post(server.url("/v1/tenants")))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = tenant["id"].as_str().unwrap().to_owned();
    let key: Value = (client.post(server.url(&format!("/v1/tenants/{id}/api-keys"))))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"name": "admin", "role": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = key["secret"].as_str().unwrap().to_owned();
    TestTenant { id, admin }
}

/// Sends `body` to `path` on a server process as the tenant's admin; answers the JSON.
pub(crate) async fn process_call(
    server: &ServerProcess,
    t: &TestTenant,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request =
        (reqwest::Client::new().request(method, server.url(path))).bearer_auth(&t.admin);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

const INSTANCE_ENV: [(&str, &str); 3] = [
    ("ROSTER_BOOTSTRAP_TOKEN", OPERATOR_TOKEN),
    ("ROSTER_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1"),
    ("ROSTER_WEBHOOK_LEASE_SECS", "20"),
];

#[tokio::test]
async fn a_stopping_instance_finishes_its_delivery_and_a_killed_one_loses_nothing() {
    let database = TestDatabase::create().await;
    let receiver = Receiver::start().await;
    let mut first = ServerProcess::start(&database.url(), &INSTANCE_ENV);
    let t = process_tenant(&first).await;
    let hooks = format!("/v1/tenants/{}/webhooks", t.id);
    let made = process_call(
        &first,
        &t,
        reqwest::Method::POST,
        &hooks,
        Some(json!({"url": receiver.url})),
    )
    .await;
    let hook = format!("{hooks}/{}", made["id"].as_str().unwrap());
    let users = format!("/v1/tenants/{}/users", t.id);
    let user = |n: u32| {
        Some(json!({"email": format!("u{n}@acme.com"), "firstName": "U", "lastName": "U"}))
    };

    // SIGTERM while the receiver takes 3 s to answer: the delivery finishes and is
    // recorded before the process exits.
    receiver.delay_ms.store(3000, Ordering::SeqCst);
    process_call(&first, &t, reqwest::Method::POST, &users, user(1)).await;
    receiver.wait_for(1).await;
    let stopped = tokio::task::spawn_blocking(move || {
        let status = first.terminate();
        (first, status)
    });
    let (_first, status) = stopped.await.unwrap();
    assert!(status.success(), "{status:?}");
    let mut second = ServerProcess::start(&database.url(), &INSTANCE_ENV);
    let state = process_call(&second, &t, reqwest::Method::GET, &hook, None).await;
    assert_eq!(
        state["deliveredThrough"], "1",
        "recorded before the exit: {state}"
    );
    let log = process_call(
        &second,
        &t,
        reqwest::Method::GET,
        &format!("{hook}/attempts"),
        None,
    )
    .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
    assert_eq!(log["items"][0]["status"], 204);

    // SIGKILL while the receiver holds the next delivery: once the lease runs out,
    // another instance delivers it again (the same webhook-id) and goes on.
    process_call(&second, &t, reqwest::Method::POST, &users, user(2)).await;
    receiver.wait_for(2).await;
    second.kill();
    receiver.delay_ms.store(0, Ordering::SeqCst);
    let third = ServerProcess::start(&database.url(), &INSTANCE_ENV);
    process_call(&third, &t, reqwest::Method::POST, &users, user(3)).await;
    let delivered = receiver.wait_for(4).await;
    let positions: Vec<String> = (delivered.iter())
        .map(|d| d.json()["data"]["position"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        positions,
        ["1", "2", "2", "3"],
        "the event in flight again, then on"
    );
    assert_eq!(delivered[1].id, delivered[2].id);
    let state = process_call(&third, &t, reqwest::Method::GET, &hook, None).await;
    assert_eq!(state["deliveredThrough"], "3");
}

#[tokio::test]
async fn a_redirect_a_slow_receiver_and_a_large_answer_are_bounded() {
    let app = TestApp::spawn_with(|settings| {
        allow_loopback(settings);
        settings.webhooks.timeout = Duration::from_secs(1);
        // No retry within the test.
        settings.webhooks.first_retry = Duration::from_secs(600);
    })
    .await;
    let t = app.tenant().await;
    let followed = Arc::new(AtomicU64::new(0));
    let receiver = axum::Router::new()
        .route(
            "/redirect",
            axum::routing::post(|| async {
                (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [("location", "/followed")],
                )
            }),
        )
        .route(
            "/followed",
            axum::routing::post({
                let followed = followed.clone();
                move || async move {
                    followed.fetch_add(1, Ordering::SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        )
        .route(
            "/slow",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                axum::http::StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/large",
            axum::routing::post(|| async { vec![b'x'; 8 * 1024 * 1024] }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let mut hooks = Vec::new();
    for path in ["/redirect", "/slow", "/large"] {
        let made = subscribe(&app, &t, json!({"url": format!("{base}{path}")})).await;
        hooks.push(made["id"].as_str().unwrap().to_owned());
    }
    app.user(&t, "a@acme.com").await;
    let mut logs = Vec::new();
    for id in &hooks {
        let mut log = attempts(&app, &t, id).await;
        for _ in 0..100 {
            if !log.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            log = attempts(&app, &t, id).await;
        }
        logs.push(log[0].clone());
    }
    assert_eq!(
        logs[0]["status"], 307,
        "a redirect is an answer, not followed"
    );
    assert!(logs[0]["error"].as_str().unwrap().contains("307"));
    assert_eq!(followed.load(Ordering::SeqCst), 0);
    assert!(logs[1]["status"].is_null());
    let slow = logs[1]["error"].as_str().unwrap();
    assert!(slow.contains("in time"), "{slow}");
    assert!(
        logs[1]["latencyMs"].as_i64().unwrap() < 4000,
        "cut at the timeout"
    );
    assert_eq!(logs[2]["status"], 200, "a large answer is read in part");
    assert!(logs[2]["error"].is_null());
    assert_eq!(webhook(&app, &t, &hooks[2]).await["deliveredThrough"], "1");
}
