use std::net::SocketAddr;

use futures_util::StreamExt;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use roster::app::Application;
use roster::config::{DatabaseUrl, ServeSettings};
use serde_json::{Value, json};
use sqlx::Connection;

pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";

/// A database of its own for one test, removed when the test ends.
pub enum TestDatabase {
    Sqlite(tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDatabase {
    /// A fresh PostgreSQL database when ROSTER_TEST_DATABASE_URL is set, else a
    /// SQLite file in a temporary directory.
    pub async fn create() -> Self {
        match std::env::var("ROSTER_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .expect("connect to ROSTER_TEST_DATABASE_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create the test database");
                conn.close().await.ok();
                let url = with_database(&admin_url, &name);
                TestDatabase::Postgres {
                    admin_url,
                    name,
                    url,
                }
            }
            _ => TestDatabase::Sqlite(tempfile::tempdir().expect("temporary directory")),
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join("roster.db").display())
            }
            TestDatabase::Postgres { url, .. } => url.clone(),
        }
    }
}

/// `postgres://u@h:p/db?x` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(query) => format!("{host_part}/{name}?{query}"),
        None => format!("{host_part}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres {
            admin_url, name, ..
        } = self
        {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; a thread of its own may block.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

/// The server under test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    server: tokio::task::JoinHandle<()>,
    database_url: String,
    // Dropped after the server task is aborted (fields drop in order); `None` for a
    // second instance over another app's database.
    _database: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A tenant made for a test, with an admin key of it.
pub struct TestTenant {
    pub id: String,
    pub admin: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the server with settings changed by `configure`.
    pub async fn spawn_with(configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
        let database = TestDatabase::create().await;
        let url = database.url();
        Self::start(url, Some(database), configure).await
    }

    /// Starts the server over a database a test prepared (an older schema, say).
    pub async fn over(database: TestDatabase) -> TestApp {
        let url = database.url();
        Self::start(url, Some(database), |_| {}).await
    }

    /// Starts the server over a fresh database reached through the URL `route` makes
    /// of the database's own (a proxy's, say).
    pub async fn spawn_routed(
        route: impl FnOnce(&str) -> String,
        configure: impl FnOnce(&mut ServeSettings),
    ) -> TestApp {
        let database = TestDatabase::create().await;
        let url = route(&database.url());
        Self::start(url, Some(database), configure).await
    }

    /// The URL the server reaches its database by.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Starts a second instance over this one's database, as several instances
    /// behind a load balancer share one.
    pub async fn spawn_sharing(&self, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
        Self::start(self.database_url.clone(), None, configure).await
    }

    async fn start(
        database_url: String,
        database: Option<TestDatabase>,
        configure: impl FnOnce(&mut ServeSettings),
    ) -> TestApp {
        let mut settings = ServeSettings {
            listen: "127.0.0.1:0".into(),
            database_url: DatabaseUrl::new(database_url.clone()),
            ..ServeSettings::default()
        };
        configure(&mut settings);
        let app = Application::build(&settings, Some(OPERATOR_TOKEN))
            .await
            .expect("the server starts");
        let addr = app.local_addr();
        let server = tokio::spawn(async move {
            app.run_until(std::future::pending())
                .await
                .expect("the server runs");
        });
        TestApp {
            addr,
            client: Client::new(),
            server,
            database_url,
            _database: database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The store of the server's database, for what no request can do yet.
    pub async fn store(&self) -> roster::store::Store {
        roster::store::Store::connect(&self.database_url, &Default::default())
            .await
            .expect("the test database opens")
    }

    /// A request with `Authorization: Bearer <token>`.
    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put(&self, path: &str, token: &str) -> Response {
        self.request(Method::PUT, path, token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, token)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a tenant and an admin key of it.
    pub async fn tenant(&self) -> TestTenant {
        let tenant = expect_json(
            self.post("/v1/tenants", OPERATOR_TOKEN, &json!({"name": "Acme"}))
                .await,
            201,
        )
        .await;
        let id = tenant["id"].as_str().expect("tenant id").to_owned();
        let admin = self.api_key(&id, "admin").await;
        TestTenant { id, admin }
    }

    /// Creates a key of `role` in the tenant and answers its secret.
    pub async fn api_key(&self, tenant: &str, role: &str) -> String {
        let key = expect_json(
            self.post(
                &format!("/v1/tenants/{tenant}/api-keys"),
                OPERATOR_TOKEN,
                &json!({"name": format!("{role} key"), "role": role}),
            )
            .await,
            201,
        )
        .await;
        key["secret"].as_str().expect("secret").to_owned()
    }

    /// Creates a user and answers it.
    pub async fn user(&self, tenant: &TestTenant, email: &str) -> Value {
        expect_json(
            self.post(
                &format!("/v1/tenants/{}/users", tenant.id),
                &tenant.admin,
                &json!({"email": email, "firstName": "Test", "lastName": "User"}),
            )
            .await,
            201,
        )
        .await
    }

    /// Creates a group and answers it.
    pub async fn group(&self, tenant: &TestTenant, name: &str) -> Value {
        expect_json(
            self.post(
                &format!("/v1/tenants/{}/groups", tenant.id),
                &tenant.admin,
                &json!({"name": name}),
            )
            .await,
            201,
        )
        .await
    }

    /// Every user of the tenant, read page by page.
    pub async fn all_users(&self, tenant: &TestTenant) -> Vec<Value> {
        let mut users = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/tenants/{}/users?limit=1000&cursor={c}", tenant.id),
                None => format!("/v1/tenants/{}/users?limit=1000", tenant.id),
            };
            let page = expect_json(self.get(&path, &tenant.admin).await, 200).await;
            users.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return users,
            }
        }
    }
}

/// Creates `count` users with emails `{prefix}{i}@acme.com`, eight at a time.
pub async fn create_users(
    app: &TestApp,
    tenant: &TestTenant,
    prefix: &str,
    count: usize,
) -> Vec<String> {
    let path = format!("/v1/tenants/{}/users", tenant.id);
    futures_util::stream::iter(0..count)
        .map(|i| {
            let path = path.clone();
            async move {
                let body = json!({"email": format!("{prefix}{i}@acme.com"), "firstName": "P", "lastName": "Q"});
                let user = expect_json(app.post(&path, &tenant.admin, &body).await, 201).await;
                user["id"].as_str().unwrap().to_owned()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// Asserts the status and answers the JSON body.
pub async fn expect_json(response: Response, status: u16) -> Value {
    let actual = response.status();
    let body = response.text().await.expect("body read");
    assert_eq!(
        actual,
        StatusCode::from_u16(status).unwrap(),
        "unexpected status; body: {body}"
    );
    if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }
}

/// Asserts a problem+json reply with this status, and answers it.
pub async fn expect_problem(response: Response, status: u16) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let problem = expect_json(response, status).await;
    assert_eq!(content_type, "application/problem+json", "{problem}");
    assert_eq!(problem["status"], status, "{problem}");
    assert!(
        problem["title"].is_string() && problem["detail"].is_string(),
        "{problem}"
    );
    problem
}

/// The fields a problem names, in order.
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().or(e["parameter"].as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The `roster` binary run as a process of its own.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// Everything the process printed to stdout, up to the listening line.
    pub stdout: String,
    stderr_path: std::path::PathBuf,
    _stderr_dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `roster serve` on port 0 over `database_url` and waits until it listens.
    pub fn start(database_url: &str, envs: &[(&str, &str)]) -> ServerProcess {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let stderr_path = dir.path().join("stderr.log");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .env_remove("ROSTER_BOOTSTRAP_TOKEN")
            .env_remove("ROSTER_CONFIG")
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("roster starts");
        let mut stdout = String::new();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    panic!(
                        "roster exited before listening: {}",
                        std::fs::read_to_string(&stderr_path).unwrap_or_default()
                    )
                })
                .unwrap();
            stdout.push_str(&line);
            stdout.push('\n');
            if let Some(url) = line.strip_prefix("roster listening on http://") {
                break url.parse().expect("a socket address");
            }
        };
        ServerProcess {
            child,
            addr,
            stdout,
            stderr_path,
            _stderr_dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Ends the process at once, as a crash would.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Asks the process to stop (SIGTERM) and waits for it.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("reaped")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
