use std::net::SocketAddr;

use futures_util::StreamExt;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use roster::app::Application;
use roster::config::{DatabaseUrl, ServeSettings};
use roster::mail::SmtpUrl;
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
    /// The metrics listener's address, when the settings named one.
    pub metrics_addr: Option<SocketAddr>,
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

    /// Starts the server sending mail to an SMTP sink of its own, and answers both.
    pub async fn spawn_with_mail() -> (TestApp, SmtpSink) {
        Self::spawn_with_mail_and(|_| {}).await
    }

    /// Starts the server sending mail to an SMTP sink of its own, with settings
    /// changed by `configure`.
    pub async fn spawn_with_mail_and(
        configure: impl FnOnce(&mut ServeSettings),
    ) -> (TestApp, SmtpSink) {
        let sink = SmtpSink::start().await;
        let app = Self::spawn_mailing_to(&sink, configure).await;
        (app, sink)
    }

    /// Starts the server sending mail to `sink`.
    pub async fn spawn_mailing_to(
        sink: &SmtpSink,
        configure: impl FnOnce(&mut ServeSettings),
    ) -> TestApp {
        let url = sink.url();
        Self::spawn_with(move |settings| {
            settings.mail.smtp_url = Some(SmtpUrl::new(url));
            configure(settings);
        })
        .await
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
        let metrics_addr = app.metrics_addr();
        let server = tokio::spawn(async move {
            app.run_until(std::future::pending())
                .await
                .expect("the server runs");
        });
        TestApp {
            addr,
            metrics_addr,
            client: Client::builder()
                // Below the server's idle cut (5 s), as a client that keeps
                // connections alive must be: else a request sent on a connection
                // the server is just closing fails before it is read.
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .expect("an HTTP client"),
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

    /// What the server logged, once its log has been still for 200 ms (at most 5 s):
    /// the server writes its log from a thread of its own, a moment after the
    /// request that logged it was answered.
    pub fn stderr(&self) -> String {
        let read = || std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut log = read();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let now = read();
            if now == log || std::time::Instant::now() > deadline {
                return now;
            }
            log = now;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message the SMTP sink received: its envelope and its raw data (headers and
/// body, dot-stuffing undone, CRLF line ends).
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// `user:password` of the session's AUTH PLAIN, if it authenticated.
    pub auth: Option<String>,
}

impl ReceivedMail {
    /// The value of the top-level header `name`, unfolded and with RFC 2047 words
    /// decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_entity(&self.data);
        header_value(headers, name).map(|value| decode_words(&value))
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The decoded body of the part of this content type (`text/plain`,
    /// `text/html`), in a multipart message or as the whole body.
    pub fn body(&self, content_type: &str) -> Option<String> {
        mime_parts(&self.data)
            .into_iter()
            .find(|(kind, _)| kind == content_type)
            .map(|(_, body)| body)
    }

    /// The first link in the plain-text body.
    pub fn link(&self) -> String {
        let text = self.body("text/plain").expect("a text/plain body");
        let start = text.find("http").expect("a link in the text body");
        text[start..]
            .split_whitespace()
            .next()
            .expect("a link")
            .to_owned()
    }

    /// The `token` parameter of the link.
    pub fn token(&self) -> String {
        let link = self.link();
        let url = reqwest::Url::parse(&link).expect("the link is a URL");
        url.query_pairs()
            .find(|(name, _)| name == "token")
            .map(|(_, token)| token.into_owned())
            .expect("a token in the link")
    }
}

/// An entity's header block and body.
fn split_entity(entity: &str) -> (&str, &str) {
    entity.split_once("\r\n\r\n").unwrap_or((entity, ""))
}

/// A header's value, continuation lines unfolded.
fn header_value(headers: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in headers.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(value) = value.as_mut() {
                value.push_str(line);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((key, rest)) = line.split_once(':')
            && key.eq_ignore_ascii_case(name)
        {
            value = Some(rest.trim().to_owned());
        }
    }
    value
}

/// Every leaf part of a MIME entity: its content type (lowercase, no parameters)
/// and its decoded body.
fn mime_parts(entity: &str) -> Vec<(String, String)> {
    let (headers, body) = split_entity(entity);
    let content_type = header_value(headers, "Content-Type").unwrap_or_default();
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if kind.starts_with("multipart/") {
        let boundary = content_type
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
            .expect("a multipart boundary")
            .trim_matches('"')
            .to_owned();
        let delimiter = format!("--{boundary}");
        return body
            .split(&delimiter)
            .skip(1)
            .take_while(|part| !part.starts_with("--"))
            .flat_map(|part| mime_parts(part.trim_start_matches("\r\n")))
            .collect();
    }
    let encoding = header_value(headers, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => {
            use base64::Engine;
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("a base64 body")
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    vec![(kind, String::from_utf8(bytes).expect("a UTF-8 body"))]
}

/// RFC 2045 quoted-printable: soft line breaks dropped, `=XX` decoded.
fn decode_quoted_printable(body: &str) -> Vec<u8> {
    let bytes = body.replace("=\r\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) =
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""), 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) decoded; white space
/// between two encoded words dropped.
fn decode_words(value: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, word) = rest.split_at(start);
        if !(after_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let parts: Vec<&str> = word[2..].splitn(3, '?').collect();
        let Some(end) = parts.get(2).and_then(|text| text.find("?=")) else {
            out.push_str(word);
            return out;
        };
        let text = &parts[2][..end];
        let bytes = match parts[1] {
            "b" | "B" => base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default(),
            _ => decode_quoted_printable(&text.replace('_', " ")),
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        rest = &parts[2][end + 2..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

/// An SMTP server for the tests on 127.0.0.1, port 0: it speaks enough SMTP for
/// lettre (greeting, EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and
/// keeps each message it takes. A refusing sink answers every RCPT with 550.
pub struct SmtpSink {
    pub addr: SocketAddr,
    received: tokio::sync::watch::Receiver<Vec<ReceivedMail>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SmtpSink {
    /// A sink that takes every message.
    pub async fn start() -> SmtpSink {
        Self::listen(false).await
    }

    /// A server that refuses every recipient (550).
    pub async fn refusing() -> SmtpSink {
        Self::listen(true).await
    }

    async fn listen(refuse: bool) -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the SMTP sink binds");
        let addr = listener.local_addr().expect("the sink's address");
        let (sender, received) = tokio::sync::watch::channel(Vec::new());
        let sender = std::sync::Arc::new(sender);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let _ = smtp_session(stream, refuse, &sender).await;
                });
            }
        });
        SmtpSink {
            addr,
            received,
            server,
        }
    }

    /// The URL to give `--smtp-url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message taken so far.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.received.borrow().clone()
    }

    /// Waits (10 s at most) until `count` messages have been taken, and answers them.
    pub async fn wait_for(&self, count: usize) -> Vec<ReceivedMail> {
        let mut received = self.received.clone();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            received.wait_for(|messages| messages.len() >= count),
        )
        .await
        .unwrap_or_else(|_| panic!("{count} message(s) did not arrive within 10 s"))
        .expect("the sink runs")
        .clone()
    }

    /// The `n`th message (from 1), once it arrives.
    pub async fn message(&self, n: usize) -> ReceivedMail {
        self.wait_for(n).await[n - 1].clone()
    }
}

/// One SMTP connection, until QUIT or the client hangs up.
async fn smtp_session(
    stream: tokio::net::TcpStream,
    refuse: bool,
    sender: &tokio::sync::watch::Sender<Vec<ReceivedMail>>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut auth = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n",
            "AUTH" => {
                let mut words = command.split_whitespace().skip(2);
                let response = match words.next() {
                    Some(response) => response.to_owned(),
                    None => {
                        write.write_all(b"334 \r\n").await?;
                        line.clear();
                        lines.read_line(&mut line).await?;
                        line.trim().to_owned()
                    }
                };
                auth = plain_credentials(&response);
                b"235 2.7.0 authenticated\r\n"
            }
            "HELO" => b"250 sink.test\r\n",
            "MAIL" => {
                from = angle_address(&command);
                to.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" if refuse => b"550 5.1.1 mailbox unavailable\r\n",
            "RCPT" => {
                to.push(angle_address(&command));
                b"250 2.1.5 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let mail = ReceivedMail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                    auth: auth.clone(),
                };
                sender.send_modify(|messages| messages.push(mail));
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not recognized\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// `user:password` of an AUTH PLAIN response (base64 of `\0user\0password`).
fn plain_credentials(response: &str) -> Option<String> {
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(response)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let mut parts = text.split('\0').skip(1);
    Some(format!("{}:{}", parts.next()?, parts.next()?))
}

/// The address between `<` and `>` of a MAIL or RCPT command.
fn angle_address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}
