use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Client;
use serde_json::{Value, json};

use crate::helpers::{
    OPERATOR_TOKEN, ServerProcess, TestApp, TestDatabase, create_users, expect_json,
};

/// Runs the `roster` binary with `args`, without the caller's database or config.
pub(crate) fn roster(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env_remove("ROSTER_DATABASE_URL")
        .env_remove("ROSTER_CONFIG")
        .envs(envs.iter().copied())
        .output()
        .expect("roster runs")
}

/// `roster ARGS --database-url URL` with `input` as its standard input.
fn roster_fed(url: &str, args: &[&str], input: &str) -> std::process::Output {
    roster_fed_with(url, args, input, &[])
}

/// `roster_fed` with these environment variables.
fn roster_fed_with(
    url: &str,
    args: &[&str],
    input: &str,
    envs: &[(&str, &str)],
) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .args(["--database-url", url])
        .env_remove("ROSTER_DATABASE_URL")
        .env_remove("ROSTER_CONFIG")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("roster runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().expect("roster runs")
}

/// `roster ARGS --database-url URL`, with nothing on standard input.
fn roster_on(url: &str, args: &[&str]) -> std::process::Output {
    roster_fed(url, args, "")
}

/// Asserts that the command failed, printing nothing on stdout, and answers what
/// it said on stderr.
fn refused(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "succeeded; stderr: {stderr}");
    assert!(output.stdout.is_empty(), "{output:?}");
    stderr
}

/// Each line of a `--json` output, parsed.
fn json_lines(output: &std::process::Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn version_and_help_describe_the_commands() {
    let version = stdout(&roster(&["--version"], &[]));
    assert_eq!(
        version.trim(),
        format!("roster {}", env!("CARGO_PKG_VERSION"))
    );
    let help = stdout(&roster(&["serve", "--help"], &[]));
    for flag in [
        "--listen",
        "ROSTER_LISTEN",
        "--database-url",
        "ROSTER_DATABASE_URL",
        "--config",
        "--max-body-bytes",
    ] {
        assert!(help.contains(flag), "serve --help mentions {flag}");
    }
}

#[tokio::test]
async fn tenants_and_keys_made_on_the_command_line_work_over_http() {
    let database = TestDatabase::create().await;
    let url = database.url();
    let tenant = stdout(&roster(
        &[
            "tenant",
            "create",
            "--name",
            "Cli Corp",
            "--database-url",
            &url,
        ],
        &[],
    ));
    let tenant = tenant.trim();
    assert!(uuid::Uuid::parse_str(tenant).is_ok(), "{tenant}");
    let list = stdout(&roster(
        &["tenant", "list"],
        &[("ROSTER_DATABASE_URL", &url)],
    ));
    assert_eq!(list.trim(), format!("{tenant}\tCli Corp"));
    let secret = stdout(&roster(
        &[
            "api-key",
            "create",
            "--tenant",
            tenant,
            "--role",
            "admin",
            "--database-url",
            &url,
        ],
        &[],
    ));

    let server = ServerProcess::start(
        &url,
        &[("ROSTER_BOOTSTRAP_TOKEN", "cli-test-operator-token-000")],
    );
    let users = Client::new()
        .get(server.url(&format!("/v1/tenants/{tenant}/users")))
        .bearer_auth(secret.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);

    let bad = roster(
        &[
            "api-key",
            "create",
            "--tenant",
            "nope",
            "--role",
            "admin",
            "--database-url",
            &url,
        ],
        &[],
    );
    assert!(!bad.status.success());
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let url = |name: &str| format!("sqlite://{}", path(name).display());
    let config = path("roster.toml");
    std::fs::write(
        &config,
        format!("database_url = \"{}\"\n", url("from-file.db")),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    stdout(&roster(&["migrate", "--config", config], &[]));
    assert!(path("from-file.db").exists());
    stdout(&roster(
        &["migrate", "--config", config],
        &[("ROSTER_DATABASE_URL", &url("from-env.db"))],
    ));
    assert!(path("from-env.db").exists());
    stdout(&roster(
        &[
            "migrate",
            "--config",
            config,
            "--database-url",
            &url("from-flag.db"),
        ],
        &[("ROSTER_DATABASE_URL", &url("not-this.db"))],
    ));
    assert!(path("from-flag.db").exists());
    assert!(!path("not-this.db").exists());

    std::fs::write(path("bad.toml"), "databse_url = \"x\"\n").unwrap();
    let bad = roster(
        &["migrate", "--config", path("bad.toml").to_str().unwrap()],
        &[],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("databse_url"));
}

#[tokio::test]
async fn a_first_start_that_cannot_listen_leaves_no_unprinted_operator_token() {
    let database = TestDatabase::create().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let failed = roster(
        &[
            "serve",
            "--listen",
            &address,
            "--database-url",
            &database.url(),
        ],
        &[],
    );
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("cannot listen"));
    assert!(!String::from_utf8_lossy(&failed.stdout).contains("operator"));

    // The next start finds no operator credential, so it makes one and shows it.
    let server = ServerProcess::start(&database.url(), &[]);
    assert!(
        server.stdout.contains("No operator credential existed"),
        "{}",
        server.stdout
    );
}

#[tokio::test]
async fn logs_written_to_a_file_carry_no_colour_codes() {
    let database = TestDatabase::create().await;
    let server = ServerProcess::start(&database.url(), &[]);
    let healthz = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(healthz.status(), 200);
    let stderr = server.stderr();
    assert!(stderr.contains("serving"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[tokio::test]
async fn a_backup_taken_under_write_load_restores_everything_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("live.db").display());
    let token = "backup-test-operator-token-0123456789";
    let server = ServerProcess::start(&url, &[("ROSTER_BOOTSTRAP_TOKEN", token)]);
    let client = Client::new();
    let tenants = server.url("/v1/tenants");

    // A writer creates tenants one after another, noting each one acknowledged.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let writer = {
        let client = client.clone();
        let tenants = tenants.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                if stopped.try_recv().is_ok() {
                    break;
                }
                let response = client
                    .post(&tenants)
                    .bearer_auth(token)
                    .json(&serde_json::json!({"name": format!("tenant {i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                acknowledged.push((std::time::Instant::now(), format!("tenant {i}")));
            }
            acknowledged
        })
    };
    // Let some writes land, then copy while the writer keeps going.
    while client
        .get(&tenants)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["items"]
        .as_array()
        .unwrap()
        .len()
        < 20
    {
        tokio::task::yield_now().await;
    }
    let backup = dir.path().join("backup.db");
    let backup_arg = backup.display().to_string();
    let began = std::time::Instant::now();
    let output = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            roster(
                &["backup", "--to", &backup_arg, "--database-url", &url],
                &[],
            )
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stop.send(()).unwrap();
    let acknowledged = writer.await.unwrap();
    let before: Vec<&String> = acknowledged
        .iter()
        .filter(|(at, _)| *at < began)
        .map(|(_, name)| name)
        .collect();
    // 20 were committed; the writer may not yet have noted the last answer.
    assert!(before.len() >= 19, "{} acknowledged before", before.len());
    assert!(
        acknowledged.len() > before.len(),
        "writes went on while the copy was made"
    );
    drop(server);

    // A second copy is refused rather than overwritten.
    let again = roster(
        &[
            "backup",
            "--to",
            &backup.display().to_string(),
            "--database-url",
            &url,
        ],
        &[],
    );
    assert!(!again.status.success());

    // Restored into a new database, every tenant acknowledged before the copy began
    // is there, and the server serves it.
    let restored_url = format!("sqlite://{}", dir.path().join("restored.db").display());
    stdout(&roster(
        &[
            "restore",
            "--from",
            &backup.display().to_string(),
            "--database-url",
            &restored_url,
        ],
        &[],
    ));
    let restored = ServerProcess::start(&restored_url, &[("ROSTER_BOOTSTRAP_TOKEN", token)]);
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(restored.url("/v1/tenants?limit=1000"))
            .bearer_auth(token);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
        for tenant in page["items"].as_array().unwrap() {
            names.push(tenant["name"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    for name in before {
        assert!(
            names.contains(name),
            "{name} was acknowledged before the backup"
        );
    }

    // A damaged backup is refused, and the database is left as it was.
    let damaged = dir.path().join("damaged.db");
    std::fs::write(&damaged, b"not a database at all").unwrap();
    let refused = roster(
        &[
            "restore",
            "--from",
            &damaged.display().to_string(),
            "--database-url",
            &restored_url,
        ],
        &[],
    );
    assert!(!refused.status.success());
    let still = client.get(restored.url("/readyz")).send().await.unwrap();
    assert_eq!(still.status(), 200);
}

#[test]
fn backup_and_restore_send_postgresql_to_its_own_tools() {
    let url = "postgres://roster@127.0.0.1:1/none";
    for args in [
        ["backup", "--to", "/tmp/never.db"],
        ["restore", "--from", "/tmp/never.db"],
    ] {
        let output = roster(&[args[0], args[1], args[2], "--database-url", url], &[]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("pg_dump") || stderr.contains("pg_restore"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn tenant_create_refuses_a_name_another_tenant_has_unless_told_to() {
    let database = TestDatabase::create().await;
    let url = database.url();
    let acme = stdout(&roster_on(&url, &["tenant", "create", "--name", "Acme"]));
    let acme = acme.trim();

    let refusal = refused(&roster_on(&url, &["tenant", "create", "--name", "ACME"]));
    assert!(refusal.contains(acme), "{refusal}");
    assert!(refusal.contains("--allow-duplicate-name"), "{refusal}");
    let refusal = refused(&roster_on(&url, &["tenant", "create", "--name", " Acme"]));
    assert!(refusal.contains("--name"), "{refusal}");

    let second = stdout(&roster_on(
        &url,
        &[
            "tenant",
            "create",
            "--name",
            "ACME",
            "--allow-duplicate-name",
        ],
    ));
    let listed = json_lines(&roster_on(&url, &["tenant", "list", "--json"]));
    assert_eq!(
        listed,
        vec![
            json!({"id": acme, "name": "Acme", "createdAt": listed[0]["createdAt"],
                "updatedAt": listed[0]["updatedAt"]}),
            json!({"id": second.trim(), "name": "ACME", "createdAt": listed[1]["createdAt"],
                "updatedAt": listed[1]["updatedAt"]}),
        ]
    );
    // Not a terminal: no header, one tab-separated line per tenant.
    assert_eq!(
        stdout(&roster_on(&url, &["tenant", "list"])),
        format!("{acme}\tAcme\n{}\tACME\n", second.trim())
    );

    // Deleting asks for --yes, and deletes nothing without it.
    let refusal = refused(&roster_on(&url, &["tenant", "delete", "--tenant", acme]));
    assert!(
        refusal.contains("--yes") && refusal.contains("Acme"),
        "{refusal}"
    );
    assert_eq!(
        json_lines(&roster_on(&url, &["tenant", "list", "--json"])).len(),
        2
    );
    let deleted = roster_on(&url, &["tenant", "delete", "--tenant", acme, "--yes"]);
    assert!(stdout(&deleted).is_empty());
    assert_eq!(
        stdout(&roster_on(&url, &["tenant", "list"])),
        format!("{}\tACME\n", second.trim())
    );
    let refusal = refused(&roster_on(
        &url,
        &["tenant", "delete", "--tenant", acme, "--yes"],
    ));
    assert!(refusal.contains("no tenant has this id"), "{refusal}");
    let refusal = refused(&roster_on(
        &url,
        &["tenant", "delete", "--tenant", "acme", "--yes"],
    ));
    assert!(refusal.contains("--tenant must be a UUID"), "{refusal}");
}

// The server runs beside the blocking CLI processes: work it left in flight (a key's
// last use, written after the reply) must go on, or it holds SQLite's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_made_on_the_command_line_signs_in_over_v1_until_disabled() {
    let app = TestApp::spawn().await;
    let url = app.database_url().to_owned();
    let tenant = stdout(&roster_on(&url, &["tenant", "create", "--name", "Acme"]));
    let tenant = tenant.trim();
    let password = "correct horse battery staple";
    let login = |email: &str| {
        app.client
            .post(app.url(&format!("/v1/tenants/{tenant}/auth/login")))
            .json(&json!({"email": email, "password": password}))
            .send()
    };

    let created = roster_fed(
        &url,
        &[
            "user",
            "create",
            "--tenant",
            tenant,
            "--email",
            "Roger@Acme.com",
            "--first-name",
            "Roger",
            "--last-name",
            "Rabbit",
            "--role",
            "admin",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    );
    let user = stdout(&created).trim().to_owned();
    assert!(uuid::Uuid::parse_str(&user).is_ok(), "{user}");
    assert!(!String::from_utf8_lossy(&created.stderr).contains(password));
    let signed_in = expect_json(login("roger@acme.com").await.unwrap(), 200).await;
    assert_eq!(signed_in["user"]["id"], user.as_str());
    assert_eq!(signed_in["user"]["role"], "admin");
    assert_eq!(signed_in["user"]["firstName"], "Roger");

    // The API's rules: a taken email in any letter case, a weak password, a bad
    // address, an unknown tenant.
    let refusal = refused(&roster_on(
        &url,
        &[
            "user",
            "create",
            "--tenant",
            tenant,
            "--email",
            "ROGER@acme.com",
        ],
    ));
    assert!(refusal.contains("already exists"), "{refusal}");
    let refusal = refused(&roster_fed(
        &url,
        &[
            "user",
            "create",
            "--tenant",
            tenant,
            "--email",
            "weak@acme.com",
            "--password-stdin",
        ],
        "password\n",
    ));
    assert!(refusal.contains("password"), "{refusal}");
    assert!(!refusal.contains("password\n\n"), "{refusal}");
    let refusal = refused(&roster_fed(
        &url,
        &[
            "user",
            "create",
            "--tenant",
            tenant,
            "--email",
            "empty@acme.com",
            "--password-stdin",
        ],
        "",
    ));
    assert!(refusal.contains("no password"), "{refusal}");
    let refusal = refused(&roster_on(
        &url,
        &[
            "user",
            "create",
            "--tenant",
            tenant,
            "--email",
            "not-an-address",
        ],
    ));
    assert!(refusal.contains("--email"), "{refusal}");
    let unknown = uuid::Uuid::now_v7().to_string();
    let refusal = refused(&roster_on(
        &url,
        &[
            "user",
            "create",
            "--tenant",
            &unknown,
            "--email",
            "a@acme.com",
        ],
    ));
    assert!(refusal.contains("no tenant has this id"), "{refusal}");

    // Disabled, the user is refused; enabled again, it signs in.
    stdout(&roster_on(
        &url,
        &["user", "disable", "--tenant", tenant, "--user", &user],
    ));
    assert_eq!(login("roger@acme.com").await.unwrap().status(), 403);
    let listed = json_lines(&roster_on(
        &url,
        &["user", "list", "--tenant", tenant, "--json"],
    ));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "disabled");
    assert_eq!(listed[0]["hasPassword"], true);
    assert!(!listed[0].to_string().contains("argon2"), "{}", listed[0]);
    stdout(&roster_on(
        &url,
        &["user", "enable", "--tenant", tenant, "--user", &user],
    ));
    expect_json(login("roger@acme.com").await.unwrap(), 200).await;

    // What the command line did is in the audit log, as the CLI's.
    let events = expect_json(
        app.get(
            &format!("/v1/tenants/{tenant}/audit-events?limit=1000"),
            OPERATOR_TOKEN,
        )
        .await,
        200,
    )
    .await;
    let cli_actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["kind"] == "cli")
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(cli_actions.contains(&"user.create"), "{cli_actions:?}");
    assert!(cli_actions.contains(&"user.update"), "{cli_actions:?}");

    stdout(&roster_on(
        &url,
        &["user", "delete", "--tenant", tenant, "--user", &user],
    ));
    assert_eq!(login("roger@acme.com").await.unwrap().status(), 401);
    let refusal = refused(&roster_on(
        &url,
        &["user", "delete", "--tenant", tenant, "--user", &user],
    ));
    assert!(refusal.contains("user not found"), "{refusal}");
    let refusal = refused(&roster_on(
        &url,
        &["user", "disable", "--tenant", tenant, "--user", "nobody"],
    ));
    assert!(refusal.contains("--user must be a UUID"), "{refusal}");
}

// The server runs beside the blocking CLI processes: work it left in flight (a key's
// last use, written after the reply) must go on, or it holds SQLite's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_list_reads_every_page_and_filters_by_a_prefix() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    // More than one chunk of the stream (500).
    let mut ids = create_users(&app, &t, "many", 503).await;
    ids.sort();
    let url = app.database_url();
    let listed = stdout(&roster_on(url, &["user", "list", "--tenant", &t.id]));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 503);
    let listed_ids: Vec<&str> = lines
        .iter()
        .map(|line| line.split('\t').next().unwrap())
        .collect();
    // In creation (id) order, each once.
    assert_eq!(
        listed_ids,
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let columns: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(columns.len(), 6, "{columns:?}");
    assert_eq!(&columns[2..], ["P", "Q", "member", "active"]);

    let found = json_lines(&roster_on(
        url,
        &[
            "user", "list", "--tenant", &t.id, "--query", "MANY10", "--json",
        ],
    ));
    let mut emails: Vec<&str> = found.iter().map(|u| u["email"].as_str().unwrap()).collect();
    emails.sort();
    assert_eq!(emails.len(), 11, "{emails:?}"); // many10, many100 … many109
    assert!(emails.iter().all(|e| e.starts_with("many10")), "{emails:?}");
}

// The server runs beside the blocking CLI processes: work it left in flight (a key's
// last use, written after the reply) must go on, or it holds SQLite's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_memberships_change_from_the_command_line_as_over_http() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let url = app.database_url();
    let user = app.user(&t, "member@acme.com").await;
    let user = user["id"].as_str().unwrap();
    let group = |name: &str| {
        stdout(&roster_on(
            url,
            &[
                "group",
                "create",
                "--tenant",
                &t.id,
                "--name",
                name,
                "--description",
                "made on the command line",
            ],
        ))
        .trim()
        .to_owned()
    };
    let toons = group("Toons");
    let characters = group("Characters");
    let refusal = refused(&roster_on(
        url,
        &["group", "create", "--tenant", &t.id, "--name", "TOONS"],
    ));
    assert!(refusal.contains("already exists"), "{refusal}");

    let member = |args: &[&str]| roster_on(url, args);
    stdout(&member(&[
        "group",
        "add-member",
        "--tenant",
        &t.id,
        "--group",
        &toons,
        "--user",
        user,
    ]));
    stdout(&member(&[
        "group",
        "add-member",
        "--tenant",
        &t.id,
        "--group",
        &characters,
        "--member-group",
        &toons,
    ]));
    // Over HTTP: the user is in Characters through Toons.
    let groups = expect_json(
        app.get(
            &format!("/v1/tenants/{}/users/{user}/groups", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    let mut names: Vec<&str> = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Characters", "Toons"]);

    // A cycle is refused; so are an unknown user and a second member flag.
    let refusal = refused(&member(&[
        "group",
        "add-member",
        "--tenant",
        &t.id,
        "--group",
        &toons,
        "--member-group",
        &characters,
    ]));
    assert!(
        refusal.contains("cycle") || refusal.contains("itself"),
        "{refusal}"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    let refusal = refused(&member(&[
        "group",
        "add-member",
        "--tenant",
        &t.id,
        "--group",
        &toons,
        "--user",
        &unknown,
    ]));
    assert!(refusal.contains("user not found"), "{refusal}");
    refused(&member(&[
        "group",
        "add-member",
        "--tenant",
        &t.id,
        "--group",
        &toons,
        "--user",
        user,
        "--member-group",
        &characters,
    ]));

    let listed = json_lines(&roster_on(
        url,
        &["group", "list", "--tenant", &t.id, "--json"],
    ));
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["name"], "Toons");
    assert_eq!(listed[0]["description"], "made on the command line");

    stdout(&member(&[
        "group",
        "remove-member",
        "--tenant",
        &t.id,
        "--group",
        &toons,
        "--user",
        user,
    ]));
    let refusal = refused(&member(&[
        "group",
        "remove-member",
        "--tenant",
        &t.id,
        "--group",
        &toons,
        "--user",
        user,
    ]));
    assert!(refusal.contains("not found"), "{refusal}");
    stdout(&member(&[
        "group",
        "remove-member",
        "--tenant",
        &t.id,
        "--group",
        &characters,
        "--member-group",
        &toons,
    ]));
    stdout(&roster_on(
        url,
        &["group", "delete", "--tenant", &t.id, "--group", &toons],
    ));
    assert_eq!(
        stdout(&roster_on(url, &["group", "list", "--tenant", &t.id])),
        format!("{characters}\tCharacters\tmade on the command line\n")
    );
    let refusal = refused(&roster_on(
        url,
        &["group", "delete", "--tenant", &t.id, "--group", &toons],
    ));
    assert!(refusal.contains("group not found"), "{refusal}");

    // Another tenant's group is not found, as over HTTP.
    let other = app.tenant().await;
    let refusal = refused(&roster_on(
        url,
        &[
            "group",
            "delete",
            "--tenant",
            &other.id,
            "--group",
            &characters,
        ],
    ));
    assert!(refusal.contains("group not found"), "{refusal}");
}

// The server runs beside the blocking CLI processes: work it left in flight (a key's
// last use, written after the reply) must go on, or it holds SQLite's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_listed_without_secrets_and_revoked_from_the_command_line() {
    let app = TestApp::spawn().await;
    let url = app.database_url();
    let tenant = stdout(&roster_on(url, &["tenant", "create", "--name", "Keyed"]));
    let tenant = tenant.trim();
    let key = |role: &str, name: &str| {
        stdout(&roster_on(
            url,
            &[
                "api-key", "create", "--tenant", tenant, "--role", role, "--name", name,
            ],
        ))
        .trim()
        .to_owned()
    };
    let admin = key("admin", "deploy");
    let reader = key("reader", "dashboard");
    let users = format!("/v1/tenants/{tenant}/users");
    let body = json!({"email": "k@acme.com", "firstName": "K", "lastName": "L"});

    // A reader key reads and never writes; the admin key writes.
    assert_eq!(app.get(&users, &reader).await.status(), 200);
    assert_eq!(app.post(&users, &reader, &body).await.status(), 403);
    assert_eq!(app.post(&users, &admin, &body).await.status(), 201);

    let listed = roster_on(url, &["api-key", "list", "--tenant", tenant, "--json"]);
    let text = stdout(&listed);
    assert!(!text.contains(&admin) && !text.contains(&reader), "{text}");
    let keys = json_lines(&listed);
    let names: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k["name"].as_str().unwrap(), k["role"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("deploy", "admin"), ("dashboard", "reader")]);
    assert!(keys[0].get("lastUsedAt").is_some(), "{}", keys[0]);
    assert!(keys[0]["revokedAt"].is_null());
    let columns = stdout(&roster_on(url, &["api-key", "list", "--tenant", tenant]));
    assert!(!columns.contains(&admin) && !columns.contains(&reader));
    assert_eq!(columns.lines().next().unwrap().split('\t').count(), 7);

    let admin_id = keys[0]["id"].as_str().unwrap();
    stdout(&roster_on(
        url,
        &["api-key", "revoke", "--tenant", tenant, "--key", admin_id],
    ));
    // Revoked by another process: the server stops trusting what it verified
    // within its bound.
    tokio::time::sleep(std::time::Duration::from_secs(
        roster::service::TRUST_SECONDS,
    ))
    .await;
    assert_eq!(app.get(&users, &admin).await.status(), 401);
    assert_eq!(app.get(&users, &reader).await.status(), 200);
    let keys = json_lines(&roster_on(
        url,
        &["api-key", "list", "--tenant", tenant, "--json"],
    ));
    assert!(keys[0]["revokedAt"].is_string(), "{}", keys[0]);
    // Revoking again changes nothing; an unknown key is not found.
    stdout(&roster_on(
        url,
        &["api-key", "revoke", "--tenant", tenant, "--key", admin_id],
    ));
    let unknown = uuid::Uuid::now_v7().to_string();
    let refusal = refused(&roster_on(
        url,
        &["api-key", "revoke", "--tenant", tenant, "--key", &unknown],
    ));
    assert!(refusal.contains("API key not found"), "{refusal}");

    // --json gives the new key's metadata with its secret, once.
    let made = json_lines(&roster_on(
        url,
        &[
            "api-key", "create", "--tenant", tenant, "--role", "reader", "--json",
        ],
    ));
    let secret = made[0]["secret"].as_str().unwrap();
    assert_eq!(made[0]["role"], "reader");
    assert_eq!(app.get(&users, secret).await.status(), 200);
}

#[tokio::test]
async fn the_configuration_example_of_the_operations_guide_starts_a_server() {
    let guide = include_str!("../../docs/operations.md");
    let example = guide
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/operations.md has a TOML example");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roster.toml");
    std::fs::write(&file, example).unwrap();
    let database = TestDatabase::create().await;
    // The file is read whole and checked; the flags the harness gives (--listen,
    // --database-url) win over the file's.
    let server = ServerProcess::start(
        &database.url(),
        &[("ROSTER_CONFIG", file.to_str().unwrap())],
    );
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let stderr = server.stderr();
    assert!(
        stderr.lines().any(|line| line.starts_with('{')),
        "log_format = \"json\" took effect: {stderr}"
    );
}

#[tokio::test]
async fn user_create_holds_passwords_to_the_server_s_password_settings() {
    let database = TestDatabase::create().await;
    let url = database.url();
    let tenant = stdout(&roster_on(&url, &["tenant", "create", "--name", "Acme"]));
    let create = |email: &str, envs: &[(&str, &str)]| {
        roster_fed_with(
            &url,
            &[
                "user",
                "create",
                "--tenant",
                tenant.trim(),
                "--email",
                email,
                "--password-stdin",
            ],
            "abcd\n",
            envs,
        )
    };
    let refusal = refused(&create("strict@acme.com", &[]));
    assert!(refusal.contains("at least 8 characters"), "{refusal}");
    // As `roster serve` would take them: from the environment, or the file.
    let lenient = [
        ("ROSTER_PASSWORD_MIN_CHARS", "4"),
        ("ROSTER_PASSWORD_MIN_STRENGTH", "0"),
    ];
    stdout(&create("lenient@acme.com", &lenient));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roster.toml");
    std::fs::write(&file, "password_min_chars = 4\npassword_min_strength = 0\n").unwrap();
    stdout(&create(
        "filed@acme.com",
        &[("ROSTER_CONFIG", file.to_str().unwrap())],
    ));
}
