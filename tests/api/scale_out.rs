//! Several instances over one PostgreSQL behind a real load balancer (HAProxy), one
//! of them killed with SIGKILL mid-load: every acknowledged write stays, lockouts,
//! address limits and sign-ins hold across the instances, and every change is
//! delivered to the webhook receiver (duplicates counted and reported).

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{OPERATOR_TOKEN, ServerProcess, TestDatabase, TestTenant};
use crate::webhooks::{Receiver, process_call, process_tenant};

const PASSWORD: &str = "correct horse battery staple";

/// A free loopback port, for a listener of another program.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// HAProxy in the foreground, balancing over `servers` in turn.
struct Balancer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Balancer {
    fn start(servers: &[&ServerProcess]) -> Balancer {
        let port = free_port();
        let backends: String = (servers.iter().enumerate())
            .map(|(i, s)| format!("    server roster{i} {} check\n", s.addr))
            .collect();
        let config = format!(
            "global\n    maxconn 512\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    \
             timeout server 30s\n    retries 2\n    option redispatch\n\
             frontend roster\n    bind 127.0.0.1:{port}\n    option forwardfor\n    \
             default_backend instances\n\
             backend instances\n    balance roundrobin\n    option httpchk GET /healthz\n    \
             http-check expect status 200\n    default-server inter 300ms fall 1 rise 2\n\
             {backends}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let child = std::process::Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("haproxy starts");
        Balancer {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn haproxy_installed() -> bool {
    std::process::Command::new("haproxy")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A sign-in through `url`, as the client at `address` (the balancer passes it on in
/// `X-Forwarded-For`, which the instances trust from it).
async fn sign_in(
    client: &reqwest::Client,
    url: &str,
    address: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(url)
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn instances_behind_haproxy_keep_every_write_and_event_when_one_is_killed() {
    if std::env::var("ROSTER_TEST_DATABASE_URL").is_err() {
        eprintln!("skipped: several instances share one PostgreSQL (set ROSTER_TEST_DATABASE_URL)");
        return;
    }
    if !haproxy_installed() {
        assert!(
            std::env::var("ROSTER_REQUIRE_HAPROXY").is_err(),
            "HAProxy is required here (ROSTER_REQUIRE_HAPROXY) and not installed"
        );
        eprintln!("skipped: HAProxy is not installed (apt-get install haproxy; .ci/run does)");
        return;
    }
    let database = TestDatabase::create().await;
    let receiver = Receiver::start().await;
    let env = [
        ("ROSTER_BOOTSTRAP_TOKEN", OPERATOR_TOKEN),
        ("ROSTER_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1"),
        ("ROSTER_WEBHOOK_LEASE_SECS", "20"),
        ("ROSTER_TRUSTED_PROXIES", "127.0.0.1"),
        ("ROSTER_LOCKOUT_MAX_FAILURES", "4"),
        ("ROSTER_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", "6"),
        ("ROSTER_PASSWORD_MAX_CONCURRENT", "1"),
    ];
    let mut instances: Vec<ServerProcess> = (0..3)
        .map(|_| ServerProcess::start(&database.url(), &env))
        .collect();
    let balancer = Balancer::start(&instances.iter().collect::<Vec<_>>());
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let up = client.get(balancer.url("/healthz")).send().await;
        if up.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t: TestTenant = process_tenant(&instances[0]).await;
    let hooks = format!("/v1/tenants/{}/webhooks", t.id);
    let hook = json!({"url": receiver.url});
    process_call(&instances[1], &t, reqwest::Method::POST, &hooks, Some(hook)).await;

    // Load through the balancer: v1, SCIM and Tyk creates, eight at a time, for 6 s;
    // instance 1 is killed 2 s in.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let failed: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (client, t) = (
            client.clone(),
            TestTenant {
                id: t.id.clone(),
                admin: t.admin.clone(),
            },
        );
        let (acknowledged, failed, running) =
            (acknowledged.clone(), failed.clone(), running.clone());
        let (v1, scim, tyk) = (
            balancer.url(&format!("/v1/tenants/{}/users", t.id)),
            balancer.url("/scim/v2/Users"),
            balancer.url("/api/users"),
        );
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while running.load(Ordering::SeqCst) {
                n += 1;
                let email = format!("w{worker}n{n}@acme.com");
                // v1, SCIM and Tyk in turn; each answers the new user's id.
                let (request, created, id_at): (_, u16, &[&str]) = match n % 3 {
                    0 => (
                        (client.post(&v1)).bearer_auth(&t.admin).json(
                            &json!({"email": email, "firstName": "W", "lastName": "N"}),
                        ),
                        201,
                        &["id"],
                    ),
                    1 => (
                        (client.post(&scim))
                            .bearer_auth(&t.admin)
                            .header("content-type", "application/scim+json")
                            .json(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "emails": [{"value": email, "primary": true}], "name": {"givenName": "W", "familyName": "N"}})),
                        201,
                        &["id"],
                    ),
                    _ => (
                        (client.post(&tyk))
                            .header("authorization", &t.admin)
                            .json(&json!({"first_name": "W", "last_name": "N", "email_address": email})),
                        200,
                        &["Meta", "id"],
                    ),
                };
                match request.send().await {
                    Ok(response) if response.status() == created => {
                        let body: Value = response.json().await.unwrap();
                        let id = id_at.iter().fold(&body, |value, key| &value[*key]);
                        acknowledged.lock().unwrap().push(id.as_str().unwrap().to_owned());
                    }
                    Ok(response) => *failed.lock().unwrap().entry(response.status().to_string()).or_default() += 1,
                    Err(error) => *failed.lock().unwrap().entry(format!("{error}")).or_default() += 1,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut killed = instances.remove(1);
    tokio::task::spawn_blocking(move || killed.kill())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    running.store(false, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!(
        "scale-out: {} creates acknowledged, refused or cut: {:?}",
        acknowledged.len(),
        failed.lock().unwrap()
    );
    assert!(
        acknowledged.len() > 50,
        "the load ran: {}",
        acknowledged.len()
    );

    // Every acknowledged write is there, whichever instance is asked.
    for (i, id) in acknowledged.iter().enumerate() {
        let server = &instances[i % 2];
        let path = format!("/v1/tenants/{}/users/{id}", t.id);
        let got = client
            .get(server.url(&path))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200, "acknowledged user {id}");
    }

    // Lockout, the address limit and sign-ins hold across the instances.
    let body = json!({"email": "signer@acme.com", "firstName": "S", "lastName": "I", "password": PASSWORD, "role": "admin"});
    let users = format!("/v1/tenants/{}/users", t.id);
    process_call(&instances[0], &t, reqwest::Method::POST, &users, Some(body)).await;
    let login = balancer.url(&format!("/v1/tenants/{}/auth/login", t.id));
    for _ in 0..4 {
        let refused = sign_in(
            &client,
            &login,
            "198.51.100.1",
            "signer@acme.com",
            "wrong password entirely",
        )
        .await;
        assert_eq!(refused.status(), 401);
    }
    let locked = sign_in(&client, &login, "198.51.100.1", "signer@acme.com", PASSWORD).await;
    assert_eq!(
        locked.status(),
        423,
        "four failures on two instances lock the account"
    );
    let mut statuses = Vec::new();
    for i in 0..7 {
        let email = format!("nobody{i}@acme.com");
        let attempt = sign_in(&client, &login, "203.0.113.9", &email, "whatever it is").await;
        statuses.push(attempt.status().as_u16());
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 401, 401, 429],
        "six attempts an address, counted together"
    );
    let signed_in = sign_in(&client, &login, "192.0.2.44", "signer@acme.com", PASSWORD).await;
    assert_eq!(signed_in.status(), 200, "another address is not locked out");
    let token: Value = signed_in.json().await.unwrap();
    let token = token["accessToken"].as_str().unwrap().to_owned();
    for server in &instances {
        let path = format!("/v1/tenants/{}/users?limit=1", t.id);
        let read = client
            .get(server.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "the sign-in holds on every instance");
    }

    // Every change is delivered; duplicates are counted.
    let mut events = Vec::new();
    let mut after = "0".to_owned();
    loop {
        let path = format!("/v1/tenants/{}/events?after={after}&limit=1000", t.id);
        let page: Value = client
            .get(balancer.url(&path))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["events"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        after = page["nextCursor"].as_str().unwrap().to_owned();
        events.extend(items);
    }
    let created: BTreeSet<String> = (events.iter())
        .filter(|e| e["type"] == "user.created")
        .map(|e| e["object"]["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &acknowledged {
        assert!(created.contains(id), "the feed has {id}");
    }
    let wanted: BTreeSet<String> = events
        .iter()
        .map(|e| e["position"].as_str().unwrap().to_owned())
        .collect();
    let started = Instant::now();
    let delivered = loop {
        let delivered: Vec<String> = (receiver.received().iter())
            .map(|d| d.json()["data"]["position"].as_str().unwrap().to_owned())
            .collect();
        let seen: BTreeSet<String> = delivered.iter().cloned().collect();
        if wanted.is_subset(&seen) || started.elapsed() > Duration::from_secs(60) {
            break delivered;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let seen: BTreeSet<String> = delivered.iter().cloned().collect();
    let missing: Vec<&String> = wanted.difference(&seen).collect();
    eprintln!(
        "scale-out: {} events, {} deliveries, {} duplicates, {} missing",
        wanted.len(),
        delivered.len(),
        delivered.len() - seen.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "undelivered positions: {missing:?}");
    drop(balancer);
}
