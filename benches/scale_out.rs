//! Throughput with 1, 2 and 3 instances over one PostgreSQL behind HAProxy: the same
//! mixed load each time (`ROSTER_BENCH_CLIENTS` clients, 16 by default, for
//! `ROSTER_BENCH_SECONDS`, 10 by default; of each five requests four read a user by
//! id and one creates a user through /v1), and a webhook subscription receiving every
//! change. Prints requests per second, their median and 95th-percentile latency, and
//! each count's ratio to one instance.
//!
//! `ROSTER_BENCH_DATABASE_URL=postgres://… cargo bench --bench scale_out` (an empty
//! PostgreSQL database); needs `haproxy` on the PATH.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;

use support::{BenchServer, median_p95, setting};

const TOKEN: &str = "scale-out-bench-operator-token-01";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// HAProxy in the foreground over `servers`, killed when dropped.
struct Balancer {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn balancer(servers: &[BenchServer]) -> Balancer {
    let port = free_port();
    let backends: String = (servers.iter().enumerate())
        .map(|(i, s)| {
            let addr = s.addr.trim_start_matches("http://");
            format!("    server roster{i} {addr} check\n")
        })
        .collect();
    let config = format!(
        "global\n    maxconn 1024\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    \
         timeout server 35s\n    retries 2\n    option redispatch\n    http-reuse always\n\
         frontend roster\n    bind 127.0.0.1:{port}\n    default_backend instances\n\
         backend instances\n    balance roundrobin\n    option httpchk GET /healthz\n    \
         default-server inter 1s\n{backends}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = std::process::Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .spawn()
        .expect("haproxy starts");
    Balancer {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// A receiver of webhooks that counts them.
async fn receiver(count: Arc<AtomicU64>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

struct Round {
    instances: usize,
    requests: u64,
    creates: u64,
    errors: u64,
    seconds: f64,
    median_ms: f64,
    p95_ms: f64,
}

#[tokio::main]
async fn main() {
    let Ok(database) = std::env::var("ROSTER_BENCH_DATABASE_URL") else {
        eprintln!("skipped: set ROSTER_BENCH_DATABASE_URL to an empty PostgreSQL database");
        return;
    };
    if std::process::Command::new("haproxy")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("skipped: haproxy is not installed");
        return;
    }
    let clients: usize = setting("ROSTER_BENCH_CLIENTS", 16);
    let seconds: u64 = setting("ROSTER_BENCH_SECONDS", 10);
    let delivered = Arc::new(AtomicU64::new(0));
    let hook = receiver(delivered.clone()).await;
    let env_args = ["--webhook-allowed-networks", "127.0.0.1"];
    let http = reqwest::Client::new();

    // The tenant, its key, 1,000 users to read and the subscription, made once.
    let first = BenchServer::start(&database, TOKEN, &env_args);
    let call = |method: reqwest::Method, path: String, token: String, body: Value| {
        let request = http.request(method, format!("{}{path}", first.addr));
        async move {
            let response = request.bearer_auth(token).json(&body).send().await.unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    let tenant = call(
        reqwest::Method::POST,
        "/v1/tenants".into(),
        TOKEN.into(),
        json!({"name": "Bench"}),
    )
    .await;
    let tenant = tenant["id"].as_str().unwrap().to_owned();
    let key = call(
        reqwest::Method::POST,
        format!("/v1/tenants/{tenant}/api-keys"),
        TOKEN.into(),
        json!({"name": "bench", "role": "admin"}),
    )
    .await;
    let key = key["secret"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for i in 0..1000 {
        let body =
            json!({"email": format!("seed{i}@bench.example"), "firstName": "S", "lastName": "B"});
        let user = call(
            reqwest::Method::POST,
            format!("/v1/tenants/{tenant}/users"),
            key.clone(),
            body,
        )
        .await;
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    call(
        reqwest::Method::POST,
        format!("/v1/tenants/{tenant}/webhooks"),
        key.clone(),
        json!({"url": hook}),
    )
    .await;
    drop(first);
    let ids = Arc::new(ids);

    let mut rounds = Vec::new();
    for instances in 1..=3 {
        let servers: Vec<BenchServer> = (0..instances)
            .map(|_| BenchServer::start(&database, TOKEN, &env_args))
            .collect();
        let lb = balancer(&servers);
        for _ in 0..100 {
            let up = http.get(format!("{}/healthz", lb.url)).send().await;
            if up.is_ok_and(|r| r.status() == 200) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let running = Arc::new(AtomicBool::new(true));
        let started = Instant::now();
        let mut workers = Vec::new();
        for client in 0..clients {
            let (http, lb, key, tenant, ids, running) = (
                http.clone(),
                lb.url.clone(),
                key.clone(),
                tenant.clone(),
                ids.clone(),
                running.clone(),
            );
            workers.push(tokio::spawn(async move {
                let (mut times, mut creates, mut errors) = (Vec::new(), 0u64, 0u64);
                let mut n = 0usize;
                while running.load(Ordering::Relaxed) {
                    n += 1;
                    let sent = Instant::now();
                    let request = if n.is_multiple_of(5) {
                        creates += 1;
                        let email = format!("r{instances}c{client}n{n}@bench.example");
                        (http.post(format!("{lb}/v1/tenants/{tenant}/users")))
                            .json(&json!({"email": email, "firstName": "R", "lastName": "B"}))
                    } else {
                        let id = &ids[(n * 7919 + client) % ids.len()];
                        http.get(format!("{lb}/v1/tenants/{tenant}/users/{id}"))
                    };
                    match request.bearer_auth(&key).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                        }
                        _ => errors += 1,
                    }
                    times.push(sent.elapsed());
                }
                (times, creates, errors)
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        running.store(false, Ordering::Relaxed);
        let (mut times, mut creates, mut errors) = (Vec::new(), 0, 0);
        for worker in workers {
            let (t, c, e) = worker.await.unwrap();
            times.extend(t);
            creates += c;
            errors += e;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (median_ms, p95_ms) = median_p95(&times);
        rounds.push(Round {
            instances,
            requests: times.len() as u64,
            creates,
            errors,
            seconds: elapsed,
            median_ms,
            p95_ms,
        });
        drop(lb);
        drop(servers);
    }

    println!(
        "{clients} clients, {seconds} s a round, 4 reads to 1 create, through HAProxy; \
         webhook deliveries so far: {}",
        delivered.load(Ordering::Relaxed)
    );
    println!(
        "| instances | requests/s | creates/s | errors | median ms | p95 ms | × one instance |"
    );
    println!("|---|---|---|---|---|---|---|");
    let base = rounds[0].requests as f64 / rounds[0].seconds;
    for round in &rounds {
        let rate = round.requests as f64 / round.seconds;
        println!(
            "| {} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {:.2} |",
            round.instances,
            rate,
            round.creates as f64 / round.seconds,
            round.errors,
            round.median_ms,
            round.p95_ms,
            rate / base
        );
    }
}
