//! A real browser for the web console's tests: headless Chromium driven through
//! chromedriver (Debian's `chromium` and `chromium-driver`) over WebDriver.
//!
//! One chromedriver serves the whole test binary: it starts on first use and dies with
//! the binary. Each [`Browser`] is a WebDriver session, that is a Chromium of its own
//! with a fresh profile, so two of them are two people (or two devices) with their own
//! cookies. The helpers panic with what they looked for, so that a test reads like the
//! steps a person takes:
//!
//! ```ignore
//! let Some(browser) = Browser::open().await else { return };
//! browser.goto(&format!("http://{}/ui/sign-in", app.addr)).await;
//! browser.fill("Email", "ada@example.com").await;
//! browser.click_button("Sign in").await;
//! browser.assert_accessible("sign-in").await;
//! ```
//!
//! Without chromium and chromedriver on PATH, [`Browser::open`] prints one line to the
//! terminal and answers `None`, so the test returns early and a machine without a
//! browser still passes `cargo test`; with `ROSTER_REQUIRE_BROWSER` set (CI sets it) it
//! panics instead.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::sync::oneshot::{self, error::TryRecvError};

/// The viewport every browser opens with.
pub const DESKTOP: (u32, u32) = (1280, 900);
/// The narrowest width the console supports.
pub const PHONE_WIDTH: u32 = 375;
/// How long `wait_for` and friends wait for an element before failing.
const WAIT: Duration = Duration::from_secs(10);
/// The WCAG 2.1 A and AA rules, by axe-core's tags.
const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
/// axe-core as its npm package ships it (tests/fixtures/README.md says how to update it).
const AXE_SOURCE: &str = include_str!("../fixtures/axe-core/axe.min.js");
const INSTALL_HINT: &str = "install them with `apt-get install chromium chromium-driver`";

/// The chromedriver of this test binary, or `None` when there is no browser here.
static DRIVER: OnceCell<Option<Driver>> = OnceCell::const_new();

struct Driver {
    port: u16,
}

impl Driver {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn driver() -> Option<&'static Driver> {
    DRIVER.get_or_init(start_driver).await.as_ref()
}

async fn start_driver() -> Option<Driver> {
    for program in ["chromium", "chromedriver"] {
        if !on_path(program) {
            return browser_missing(program);
        }
    }
    // chromedriver cannot be asked for port 0 and say which port it took, so take a
    // free port, let it go and hand it over; another process may grab it in between,
    // and then chromedriver exits at once and we try another.
    let temp_dir = run_temp_dir();
    let mut failures = Vec::new();
    for _ in 0..5 {
        let port = free_port();
        let mut exited = spawn_chromedriver(port, temp_dir.clone());
        match wait_until_ready(port, &mut exited).await {
            Ok(()) => return Some(Driver { port }),
            Err(why) => failures.push(format!("port {port}: {why}")),
        }
    }
    panic!("chromedriver did not start: {}", failures.join("; "));
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn browser_missing(program: &str) -> Option<Driver> {
    if std::env::var_os("ROSTER_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty()) {
        panic!("ROSTER_REQUIRE_BROWSER is set but `{program}` is not on PATH: {INSTALL_HINT}");
    }
    // Straight to the terminal: libtest keeps what a passing test prints with eprintln!.
    let _ = writeln!(
        std::io::stderr(),
        "browser tests skipped: `{program}` is not on PATH ({INSTALL_HINT}; \
         ROSTER_REQUIRE_BROWSER=1 makes this an error)"
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// Starts chromedriver on `port` from a thread that lives as long as it does: the
/// parent-death signal is tied to the thread that spawned the child, and it is what
/// ends chromedriver when the test binary exits, however it exits (statics are never
/// dropped, so no guard would). The receiver answers when chromedriver has exited.
fn spawn_chromedriver(port: u16, temp_dir: PathBuf) -> oneshot::Receiver<String> {
    let (exited_tx, exited_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("chromedriver-{port}"))
        .spawn(move || {
            let mut command = Command::new("chromedriver");
            command
                .arg(format!("--port={port}"))
                .env("TMPDIR", temp_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            #[cfg(target_os = "linux")]
            {
                use std::os::unix::process::CommandExt as _;
                // SAFETY: prctl is async-signal-safe and touches no memory of ours.
                unsafe {
                    command.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            }
            let outcome = match command.spawn() {
                Ok(mut child) => match child.wait() {
                    Ok(status) => format!("chromedriver exited, {status}"),
                    Err(error) => format!("waiting for chromedriver failed: {error}"),
                },
                Err(error) => format!("chromedriver could not be started: {error}"),
            };
            let _ = exited_tx.send(outcome);
        })
        .expect("a thread to keep chromedriver");
    exited_rx
}

/// A temporary folder for this run's chromedriver and Chromiums, which leave some of
/// their files in it (an empty folder per Chromium, and the profile of a session still
/// open when the binary exits). A run removes the folders of runs that have ended.
fn run_temp_dir() -> PathBuf {
    const PREFIX: &str = "roster-browser-";
    let temp = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&temp) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
                continue;
            };
            if pid.parse().is_ok_and(|pid| pid > 0 && !process_runs(pid)) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = temp.join(format!("{PREFIX}{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn process_runs(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

async fn wait_until_ready(port: u16, exited: &mut oneshot::Receiver<String>) -> Result<(), String> {
    let http = reqwest::Client::new();
    let status_url = format!("http://127.0.0.1:{port}/status");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match exited.try_recv() {
            Ok(why) => return Err(why),
            Err(TryRecvError::Closed) => return Err("its keeper thread died".into()),
            Err(TryRecvError::Empty) => {}
        }
        if let Ok(response) = http.get(&status_url).send().await {
            let ready = response
                .json::<Value>()
                .await
                .is_ok_and(|body| body["value"]["ready"] == json!(true));
            // A chromedriver that lost the port to another one exits within moments.
            if ready && matches!(exited.try_recv(), Err(TryRecvError::Empty)) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err("its /status was not ready within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One person's (or device's) headless Chromium: a WebDriver session with a fresh
/// profile and so its own cookies. The session ends on [`Browser::close`] or on drop.
pub struct Browser {
    client: Option<Client>,
    session: String,
    driver_port: u16,
}

/// A cookie as the browser holds it, with the flags a session cookie is checked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserCookie {
    pub name: String,
    pub value: String,
    pub http_only: bool,
    pub secure: bool,
    /// `Some("Strict")`, `Some("Lax")` or `Some("None")` as Chromium applies it: it
    /// reports `Lax` for a cookie set without SameSite, so whether the server named it
    /// is for the `Set-Cookie` header to show.
    pub same_site: Option<String>,
    pub path: Option<String>,
}

/// One axe-core rule a page breaks, with every element that breaks it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// The rule, e.g. `label` or `color-contrast`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: Option<String>,
    pub help: String,
    pub help_url: String,
    /// A CSS selector for each failing element.
    pub targets: Vec<String>,
}

impl Violation {
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let impact = self.impact.as_deref().unwrap_or("unknown impact");
        write!(
            f,
            "{} ({impact}): {} <{}>",
            self.id, self.help, self.help_url
        )?;
        for target in &self.targets {
            write!(f, "\n    at {target}")?;
        }
        Ok(())
    }
}

impl Browser {
    /// A new headless Chromium with an empty profile and a 1280×900 viewport, or `None`
    /// when this machine has no chromium or chromedriver (see the module's doc).
    pub async fn open() -> Option<Browser> {
        let driver = driver().await?;
        let capabilities = json!({
            "browserName": "chrome",
            "timeouts": { "pageLoad": 30_000, "script": 30_000 },
            "goog:chromeOptions": {
                "args": [
                    "--headless=new",
                    // The tests run as root, where Chromium's sandbox cannot start.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    // chromedriver talks to Chromium over a pipe, so that Chromium ends
                    // when chromedriver does instead of outliving the test binary.
                    "--remote-debugging-pipe",
                    "--lang=en-US",
                    "--force-device-scale-factor=1",
                ],
                "prefs": {
                    "credentials_enable_service": false,
                    "profile.password_manager_enabled": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start a Chromium session: {e}"));
        let session = client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a WebDriver session id");
        let browser = Browser {
            client: Some(client),
            session,
            driver_port: driver.port,
        };
        browser.resize(DESKTOP.0, DESKTOP.1).await;
        Some(browser)
    }

    /// The underlying WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser is open")
    }

    /// Ends the session and its Chromium, reporting any failure (drop does it quietly).
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client
                .close()
                .await
                .unwrap_or_else(|e| panic!("closing the browser: {e}"));
        }
    }

    /// Loads `url` and waits for its load event.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client()
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("current_url: {e}"))
            .to_string()
    }

    /// Waits until the current page's address ends with `suffix` (a navigation has
    /// finished), or panics with the address it stayed at.
    pub async fn wait_for_url_ending(&self, suffix: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = self.current_url().await;
            if url.ends_with(suffix) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("the page stayed at {url}, not …{suffix}, for {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `text` into the field whose `<label>` reads `label_or_css` (by `for` or by
    /// nesting; whitespace-normalised, exact), or else the element that CSS selector
    /// finds. Clears the field first.
    pub async fn fill(&self, label_or_css: &str, text: &str) {
        let field = self.field(label_or_css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("fill {label_or_css:?}: clearing it: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("fill {label_or_css:?}: typing: {e}"));
    }

    async fn field(&self, label_or_css: &str) -> Element {
        let client = self.client();
        let by_label = format!("//label[normalize-space()={}]", xpath_literal(label_or_css));
        if let Ok(label) = client.find(Locator::XPath(&by_label)).await {
            let field = match label.attr("for").await.ok().flatten() {
                Some(id) => client.find(Locator::Id(&id)).await,
                None => label.find(Locator::Css("input, select, textarea")).await,
            };
            return field.unwrap_or_else(|e| {
                panic!("the label {label_or_css:?} is attached to no field: {e}")
            });
        }
        client
            .find(Locator::Css(label_or_css))
            .await
            .unwrap_or_else(|e| {
                panic!("no label reads {label_or_css:?}, nor does it find a field as CSS: {e}")
            })
    }

    /// Clicks the button (`<button>`, or `<input type=submit|button>`) whose text is
    /// `text`, whitespace-normalised and exact.
    pub async fn click_button(&self, text: &str) {
        let text_literal = xpath_literal(text);
        let xpath = format!(
            "//button[normalize-space()={text_literal}] \
             | //input[(@type='submit' or @type='button') and @value={text_literal}]"
        );
        self.click(Locator::XPath(&xpath), "button", text).await;
    }

    /// Clicks the link whose text is `text`, exactly.
    pub async fn click_link(&self, text: &str) {
        self.click(Locator::LinkText(text), "link", text).await;
    }

    async fn click(&self, locator: Locator<'_>, kind: &str, text: &str) {
        let element = self
            .client()
            .find(locator)
            .await
            .unwrap_or_else(|e| panic!("no {kind} reads {text:?}: {e}"));
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking the {kind} {text:?}: {e}"));
    }

    /// The rendered text of the first element `css` finds.
    pub async fn text_of(&self, css: &str) -> String {
        let element = self
            .client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("text_of: nothing matches {css:?}: {e}"));
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("text_of {css:?}: {e}"))
    }

    /// Waits up to ten seconds for the first element `css` finds to read `text`. After
    /// a form is sent, the page being left may still be there, and an element found
    /// on it goes stale as the next page replaces it: each look finds it anew.
    pub async fn wait_for_text(&self, css: &str, text: &str) {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client().find(Locator::Css(css)).await
                && let Ok(found) = element.text().await
            {
                if found == text {
                    return;
                }
                last = found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css:?} reads {last:?}, not {text:?}");
    }

    /// The first element `css` finds, waiting up to ten seconds for it to appear.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client()
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("wait_for: nothing matched {css:?} within {WAIT:?}: {e}"))
    }

    /// The cookies the browser holds for the current page, HttpOnly ones included.
    pub async fn cookies(&self) -> Vec<BrowserCookie> {
        let cookies = self
            .client()
            .get_all_cookies()
            .await
            .unwrap_or_else(|e| panic!("cookies: {e}"));
        cookies
            .into_iter()
            .map(|cookie| BrowserCookie {
                name: cookie.name().to_owned(),
                value: cookie.value().to_owned(),
                http_only: cookie.http_only().unwrap_or(false),
                secure: cookie.secure().unwrap_or(false),
                same_site: cookie.same_site().map(|s| s.to_string()),
                path: cookie.path().map(str::to_owned),
            })
            .collect()
    }

    /// The cookie called `name` for the current page, if the browser holds one.
    pub async fn cookie(&self, name: &str) -> Option<BrowserCookie> {
        self.cookies().await.into_iter().find(|c| c.name == name)
    }

    /// Runs `script` as a function body in the page and answers what it returns. Not
    /// subject to the page's Content-Security-Policy.
    pub async fn execute(&self, script: &str) -> Value {
        self.client()
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("execute: {e}\n{script}"))
    }

    /// Sets the viewport (not the window) to `width`×`height` CSS pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        let client = self.client();
        let mut window = (width, height);
        // Headless Chromium's window has no frame today; measure rather than assume.
        for _ in 0..2 {
            client
                .set_window_size(window.0, window.1)
                .await
                .unwrap_or_else(|e| panic!("resize to {width}×{height}: {e}"));
            let (inner_width, inner_height) = self.viewport().await;
            if (inner_width, inner_height) == (width, height) {
                return;
            }
            window = (
                (window.0 + width).saturating_sub(inner_width),
                (window.1 + height).saturating_sub(inner_height),
            );
        }
        let viewport = self.viewport().await;
        panic!("resize to {width}×{height} left a {viewport:?} viewport");
    }

    async fn viewport(&self) -> (u32, u32) {
        let size = self
            .execute("return [window.innerWidth, window.innerHeight];")
            .await;
        let dimension = |i: usize| size[i].as_u64().and_then(|v| u32::try_from(v).ok());
        match (dimension(0), dimension(1)) {
            (Some(width), Some(height)) => (width, height),
            _ => panic!("the viewport's size is not two numbers: {size}"),
        }
    }

    /// Saves what the viewport shows as `{name}.png` in the screenshot folder (see
    /// [`screenshot_dir`]) and answers its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client()
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Like [`Browser::screenshot`] with the viewport `width` pixels wide (e.g.
    /// [`PHONE_WIDTH`]), saved as `{name}-{width}px.png`; the viewport is put back after.
    pub async fn screenshot_at(&self, name: &str, width: u32) -> PathBuf {
        let (old_width, height) = self.viewport().await;
        self.resize(width, height).await;
        let path = self.screenshot(&format!("{name}-{width}px")).await;
        self.resize(old_width, height).await;
        path
    }

    /// Every WCAG 2.1 A and AA rule the current page breaks, by axe-core, whatever
    /// the impact.
    pub async fn violations(&self) -> Vec<Violation> {
        // Injected through WebDriver, which the page's Content-Security-Policy does not
        // govern: the console's CSP forbids inline scripts.
        let loaded = self.execute("return typeof window.axe === 'object';").await;
        if loaded != json!(true) {
            self.execute(AXE_SOURCE).await;
        }
        let run = r#"
            const [tags, done] = arguments;
            axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
              .then(results => done({ violations: results.violations.map(v => ({
                  id: v.id,
                  impact: v.impact,
                  help: v.help,
                  helpUrl: v.helpUrl,
                  // Selectors reaching into frames or shadow roots come as lists.
                  targets: v.nodes.map(n => n.target.map(t => [].concat(t).join(' >>> ')).join(' >> ')),
              })) }))
              .catch(error => done({ error: String(error) }));
        "#;
        let outcome = self
            .client()
            .execute_async(run, vec![json!(AXE_TAGS)])
            .await
            .unwrap_or_else(|e| panic!("running axe-core: {e}"));
        if let Some(error) = outcome.get("error") {
            panic!("axe-core failed on {}: {error}", self.current_url().await);
        }
        serde_json::from_value(outcome["violations"].clone())
            .unwrap_or_else(|e| panic!("axe-core's violations: {e}\n{outcome}"))
    }

    /// Fails, naming `page_name` and listing each one, if axe-core finds a serious or
    /// critical WCAG 2.1 A/AA violation on the current page.
    pub async fn assert_accessible(&self, page_name: &str) {
        let serious: Vec<String> = self
            .violations()
            .await
            .iter()
            .filter(|v| v.is_serious())
            .map(Violation::to_string)
            .collect();
        assert!(
            serious.is_empty(),
            "{page_name} ({}) has {} serious or critical accessibility violation(s):\n- {}",
            self.current_url().await,
            serious.len(),
            serious.join("\n- ")
        );
    }
}

impl Drop for Browser {
    /// Ends the session at once, which also deletes its profile: the test's runtime,
    /// on which fantoccini would send the request, stops right after the test.
    fn drop(&mut self) {
        if self.client.take().is_some() {
            delete_session(self.driver_port, &self.session);
        }
    }
}

/// `DELETE /session/{id}`, by hand and blocking, for use in `drop`.
fn delete_session(port: u16, session: &str) {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // chromedriver answers once Chromium has quit, and may keep the connection open
    // after: the end of the response's head is the end of the wait.
    let mut response = Vec::new();
    let mut chunk = [0; 1024];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Where screenshots go: `ui-screenshots/` under `CARGO_TARGET_DIR` when it is set,
/// else under this package's `target/`.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("ui-screenshots")
}

/// `text` as an XPath 1.0 string literal, which has no escapes.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// The harness's own tests, against small pages served here with the console's strict
/// Content-Security-Policy.
mod harness {
    use std::collections::HashMap;

    use axum::Router;
    use axum::extract::Query;
    use axum::http::{HeaderMap, HeaderValue, header};
    use axum::response::{Html, IntoResponse, Response};
    use axum::routing::get;
    use futures_util::FutureExt as _;

    use super::*;

    const STRICT_CSP: &str = "script-src 'self'";

    /// Serves the test pages on 127.0.0.1 port 0 and answers their base URL.
    async fn serve_pages() -> String {
        let app = Router::new()
            .route("/inaccessible", get(inaccessible_page))
            .route("/form", get(form_page).post(form_submitted))
            .route("/cookie", get(set_cookie))
            .route("/whoami", get(whoami))
            .layer(axum::middleware::map_response(
                |mut response: Response| async move {
                    response.headers_mut().insert(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(STRICT_CSP),
                    );
                    response
                },
            ));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("a port for the test pages");
        let address = listener.local_addr().expect("the test pages' address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    fn page(title: &str, body: &str) -> Html<String> {
        Html(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head>\
             <body><main><h1>{title}</h1>{body}</main></body></html>"
        ))
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    async fn inaccessible_page() -> Html<String> {
        page(
            "Unlabelled",
            "<style>.faint { color: #c8c8c8; background: #ffffff; }</style>\
             <p class=\"faint\">This grey text is too faint to read.</p>\
             <form><input type=\"text\" name=\"nickname\"></form>",
        )
    }

    /// Labelled both ways (by `for` and by nesting), and with an inline script that the
    /// CSP must stop: the page's title says whether it ran.
    async fn form_page() -> Html<String> {
        page(
            "Profile",
            "<script>document.title = 'inline script ran';</script>\
             <form method=\"post\" action=\"/form\">\
             <p><label for=\"email\">Email</label> <input id=\"email\" name=\"email\" type=\"email\"></p>\
             <p><label>Display name <input name=\"name\" type=\"text\"></label></p>\
             <p><button type=\"submit\">Save</button></p>\
             </form>",
        )
    }

    async fn form_submitted(body: String) -> Html<String> {
        let fields: HashMap<String, String> =
            serde_urlencoded::from_str(&body).expect("a form-encoded body");
        let field = |name: &str| escape(fields.get(name).map_or("", String::as_str));
        page(
            "Saved",
            &format!(
                "<p id=\"result\">Saved {} &lt;{}&gt;</p><p><a href=\"/form\">Edit again</a></p>",
                field("name"),
                field("email")
            ),
        )
    }

    async fn set_cookie(Query(query): Query<HashMap<String, String>>) -> impl IntoResponse {
        let visitor = query.get("visitor").cloned().unwrap_or_default();
        (
            [(
                header::SET_COOKIE,
                format!("visitor={visitor}; Path=/; HttpOnly; SameSite=Strict"),
            )],
            page(
                "Cookie set",
                &format!("<p>Hello, {}.</p>", escape(&visitor)),
            ),
        )
    }

    async fn whoami(headers: HeaderMap) -> Html<String> {
        let cookie = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no cookie");
        page(
            "Who am I",
            &format!("<p id=\"cookie\">{}</p>", escape(cookie)),
        )
    }

    #[tokio::test]
    async fn axe_reports_an_unlabelled_input_and_low_contrast_text() {
        let Some(browser) = Browser::open().await else {
            return;
        };
        let pages = serve_pages().await;
        browser.goto(&format!("{pages}/inaccessible")).await;

        let violations = browser.violations().await;
        let rules: Vec<&str> = violations.iter().map(|v| v.id.as_str()).collect();
        assert!(rules.contains(&"label"), "{rules:?}");
        assert!(rules.contains(&"color-contrast"), "{rules:?}");
        let label = violations.iter().find(|v| v.id == "label").unwrap();
        assert!(label.is_serious(), "{label}");
        assert_eq!(label.targets, ["input"], "{label}");
        let contrast = violations
            .iter()
            .find(|v| v.id == "color-contrast")
            .unwrap();
        assert_eq!(contrast.targets, ["p"], "{contrast}");

        let failure =
            std::panic::AssertUnwindSafe(browser.assert_accessible("the unlabelled page"))
                .catch_unwind()
                .await
                .expect_err("assert_accessible passes a page with an unlabelled input");
        let message = failure
            .downcast_ref::<String>()
            .expect("a formatted panic message");
        for expected in [
            "the unlabelled page",
            "label (critical)",
            "color-contrast (serious)",
            "\n    at input",
            "\n    at p\n",
        ] {
            assert!(message.contains(expected), "{expected:?} in:\n{message}");
        }
    }

    #[tokio::test]
    async fn an_accessible_page_passes_axe_under_a_strict_csp() {
        let Some(browser) = Browser::open().await else {
            return;
        };
        let pages = serve_pages().await;
        browser.goto(&format!("{pages}/form")).await;

        // The CSP is in force (its inline script did not run), yet axe-core runs.
        let title = browser.execute("return document.title;").await;
        assert_eq!(title, json!("Profile"));
        browser.assert_accessible("the profile form").await;
        let loaded = browser.execute("return typeof window.axe;").await;
        assert_eq!(loaded, json!("object"));
    }

    #[tokio::test]
    async fn fill_by_label_and_click_button_submit_a_form() {
        let Some(browser) = Browser::open().await else {
            return;
        };
        let pages = serve_pages().await;
        browser.goto(&format!("{pages}/form")).await;

        browser.fill("Email", "ada@example.com").await;
        browser.fill("Display name", "Ada").await;
        // Filling again replaces, and a CSS selector finds a field too.
        browser.fill("input[name=name]", "Ada Lovelace").await;
        browser.click_button("Save").await;

        browser.wait_for("#result").await;
        assert_eq!(
            browser.text_of("#result").await,
            "Saved Ada Lovelace <ada@example.com>"
        );
        assert_eq!(browser.current_url().await, format!("{pages}/form"));
        assert_eq!(
            browser.execute("return document.title;").await,
            json!("Saved")
        );

        browser.click_link("Edit again").await;
        browser.wait_for("form").await;
        assert_eq!(
            browser.execute("return document.title;").await,
            json!("Profile")
        );
    }

    #[tokio::test]
    async fn two_browsers_do_not_share_cookies() {
        let (Some(alice), Some(bob)) = (Browser::open().await, Browser::open().await) else {
            return;
        };
        let pages = serve_pages().await;
        alice.goto(&format!("{pages}/cookie?visitor=alice")).await;
        bob.goto(&format!("{pages}/whoami")).await;

        assert_eq!(bob.text_of("#cookie").await, "no cookie");
        assert_eq!(bob.cookies().await, []);
        let cookie = alice.cookie("visitor").await.expect("alice's cookie");
        assert_eq!(cookie.value, "alice");
        assert!(cookie.http_only, "{cookie:?}");
        assert!(!cookie.secure, "{cookie:?}");
        assert_eq!(cookie.same_site.as_deref(), Some("Strict"));
        alice.goto(&format!("{pages}/whoami")).await;
        assert_eq!(alice.text_of("#cookie").await, "visitor=alice");

        alice.close().await;
        bob.close().await;
    }

    #[tokio::test]
    async fn a_screenshot_is_a_png_at_the_desktop_and_phone_widths() {
        let Some(browser) = Browser::open().await else {
            return;
        };
        let pages = serve_pages().await;
        browser.goto(&format!("{pages}/form")).await;

        let desktop = browser.screenshot("harness-form").await;
        let phone = browser.screenshot_at("harness-form", PHONE_WIDTH).await;

        assert_eq!(desktop, screenshot_dir().join("harness-form.png"));
        assert_eq!(phone, screenshot_dir().join("harness-form-375px.png"));
        assert_eq!(png_size(&desktop), DESKTOP);
        assert_eq!(png_size(&phone), (PHONE_WIDTH, DESKTOP.1));
        // The viewport is back to the desktop's.
        assert_eq!(browser.viewport().await, DESKTOP);
    }

    /// A PNG's width and height from its header, failing if the file is no PNG.
    fn png_size(path: &std::path::Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            bytes.len() > 24
                && bytes.starts_with(b"\x89PNG\r\n\x1a\n")
                && &bytes[12..16] == b"IHDR",
            "{} is not a PNG",
            path.display()
        );
        let number = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        (number(16), number(20))
    }

    #[test]
    fn xpath_literals_quote_any_text() {
        assert_eq!(xpath_literal("Email"), "'Email'");
        assert_eq!(xpath_literal("Owner's email"), "\"Owner's email\"");
        assert_eq!(
            xpath_literal(r#"The "owner's" email"#),
            r#"concat('The "owner', "'", 's" email')"#
        );
    }
}
