use std::process::Command;

use reqwest::Client;

use crate::helpers::{ServerProcess, TestDatabase};

fn roster(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env_remove("ROSTER_DATABASE_URL")
        .env_remove("ROSTER_CONFIG")
        .envs(envs.iter().copied())
        .output()
        .expect("roster runs")
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
