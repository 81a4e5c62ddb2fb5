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
