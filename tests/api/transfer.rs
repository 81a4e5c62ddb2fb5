//! Import and export: `GET …/export` and `POST …/import` over HTTP, and `roster import`
//! and `roster export` on the database and through the server.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::cli::roster;
use crate::helpers::{OPERATOR_TOKEN, TestApp, TestTenant, expect_json, expect_problem};
use crate::sign_in::login;

const PASSWORD: &str = "correct horse battery staple 1";
/// Python's bcrypt made this hash of PASSWORD (cost 4).
const BCRYPT: &str = "$2b$04$qzLtedBOH.WbDgl38e3Kg.q4QywQX30Z/8CkzGMV1GvXKAXemx2m2";

/// Posts `body` to the import endpoint and answers the status and the result lines.
pub(crate) async fn import(
    app: &TestApp,
    tenant: &str,
    token: &str,
    query: &str,
    body: &str,
) -> (u16, Vec<Value>) {
    let response = app
        .client
        .post(app.url(&format!("/v1/tenants/{tenant}/import{query}")))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let lines = if status == 200 {
        text.lines()
            .map(|line| serde_json::from_str(line).expect("each result line is JSON"))
            .collect()
    } else {
        vec![serde_json::from_str(&text).unwrap_or(Value::Null)]
    };
    (status, lines)
}

/// The export of a tenant, its lines parsed.
async fn export(app: &TestApp, tenant: &str, token: &str, query: &str) -> Vec<Value> {
    let response = app
        .get(&format!("/v1/tenants/{tenant}/export{query}"), token)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each export line is JSON"))
        .collect()
}

/// The groups `user` belongs to, at any depth.
async fn groups_of(app: &TestApp, t: &TestTenant, user: &Value) -> Vec<Value> {
    let path = format!(
        "/v1/tenants/{}/users/{}/groups",
        t.id,
        user["id"].as_str().unwrap()
    );
    let groups = expect_json(app.get(&path, &t.admin).await, 200).await;
    groups["items"].as_array().unwrap().clone()
}

pub(crate) fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn summary(lines: &[Value]) -> &Value {
    &lines.last().expect("a summary line")["summary"]
}

pub(crate) fn statuses(lines: &[Value]) -> Vec<&str> {
    lines.iter().filter_map(|l| l["status"].as_str()).collect()
}

/// A tenant with something of everything: a declared attribute, a group within a
/// group, users with profiles, attributes, groups and a default group, and a key.
async fn furnished(app: &TestApp) -> TestTenant {
    let t = app.tenant().await;
    let v1 = |path: &str| format!("/v1/tenants/{}/{path}", t.id);
    expect_json(
        app.post(
            &v1("attributes"),
            &t.admin,
            &json!({"name": "badge", "type": "string", "unique": true}),
        )
        .await,
        201,
    )
    .await;
    let eng = expect_json(
        app.post(
            &v1("groups"),
            &t.admin,
            &json!({"name": "Engineering", "description": "All of it", "externalId": "g-eng"}),
        )
        .await,
        201,
    )
    .await;
    let backend = app.group(&t, "Backend").await;
    let response = app
        .put(
            &v1(&format!(
                "groups/{}/subgroups/{}",
                eng["id"].as_str().unwrap(),
                backend["id"].as_str().unwrap()
            )),
            &t.admin,
        )
        .await;
    assert_eq!(response.status(), 204);
    let ada = expect_json(
        app.post(
            &v1("users"),
            &t.admin,
            &json!({
                "email": "ada@acme.com", "firstName": "Ada", "lastName": "Lovelace",
                "externalId": "hr-1", "role": "admin", "phone": "+44 20 7946 0000",
                "profile": {"title": "Analyst", "department": "Engines",
                    "addresses": [{"type": "work", "locality": "London", "country": "GB"}]},
                "attributes": {"badge": "A-1"}, "password": PASSWORD,
            }),
        )
        .await,
        201,
    )
    .await;
    let bob = app.user(&t, "bob@acme.com").await;
    for (group, user) in [(&backend, &ada), (&eng, &bob)] {
        let response = app
            .put(
                &v1(&format!(
                    "groups/{}/members/{}",
                    group["id"].as_str().unwrap(),
                    user["id"].as_str().unwrap()
                )),
                &t.admin,
            )
            .await;
        assert_eq!(response.status(), 204);
    }
    let response = app
        .patch(
            &v1(&format!("users/{}", bob["id"].as_str().unwrap())),
            &t.admin,
            &json!({"defaultGroupId": eng["id"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    t
}

/// An export's lines as they should match another tenant's: without what names the
/// tenant, when it was written or last changed, sign-in counts, password hashes (read
/// as they are, but re-hashed by the sign-in), and API keys (each
/// tenant has its own).
fn comparable(lines: Vec<Value>) -> BTreeSet<String> {
    lines
        .into_iter()
        .filter(|l| l["object"] != "apiKey" && l["object"] != "roster.export")
        .map(|mut l| {
            let object = l.as_object_mut().unwrap();
            for field in ["tenantId", "updatedAt", "login", "passwordHash"] {
                object.remove(field);
            }
            if object["object"] == "attribute" {
                // A declaration is made anew, at the import's time.
                object.remove("createdAt");
            }
            l.to_string()
        })
        .collect()
}

#[tokio::test]
async fn an_export_imported_into_an_empty_tenant_reproduces_it() {
    let app = TestApp::spawn().await;
    let source = furnished(&app).await;
    let exported = export(&app, &source.id, &source.admin, "").await;
    assert_eq!(exported[0]["object"], "roster.export");
    assert_eq!(exported[0]["version"], 1);
    let objects: Vec<&str> = exported[1..]
        .iter()
        .map(|l| l["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        objects,
        ["attribute", "group", "group", "user", "user", "apiKey"],
        "attributes, then groups (parents first), then users, then keys"
    );
    let engineering = &exported[2];
    assert_eq!(engineering["name"], "Engineering");
    assert_eq!(exported[3]["parents"], json!(["Engineering"]));
    let ada = exported
        .iter()
        .find(|l| l["email"] == "ada@acme.com")
        .unwrap()
        .clone();
    assert_eq!(ada["groups"], json!(["Backend"]));
    assert_eq!(ada["attributes"]["badge"], "A-1");
    assert_eq!(ada["profile"]["addresses"][0]["locality"], "London");
    let text = ndjson(&exported);
    assert!(!text.contains("$argon2"), "no hash without the flag");
    assert!(!text.contains("secret"), "never a key's secret");
    // With its password hashes (the operator's to ask for), the tenant moves whole.
    let exported = export(&app, &source.id, OPERATOR_TOKEN, "?passwordHashes=true").await;
    let text = ndjson(&exported);
    assert!(text.contains("$argon2id$"));

    let target = app.tenant().await;
    let (status, results) = import(&app, &target.id, &target.admin, "", &text).await;
    assert_eq!(status, 200);
    assert_eq!(
        summary(&results),
        &json!({"lines": 7, "created": 5, "updated": 0, "unchanged": 0, "skipped": 2, "failed": 0}),
        "{results:?}"
    );
    assert_eq!(results.last().unwrap()["complete"], true);
    let reproduced = export(&app, &target.id, &target.admin, "").await;
    let (reproduced, original) = (comparable(reproduced), comparable(exported.clone()));
    let differing: Vec<&String> = reproduced.symmetric_difference(&original).collect();
    assert!(differing.is_empty(), "{differing:#?}");

    expect_json(login(&app, &target.id, "ada@acme.com", PASSWORD).await, 200).await;

    // Nested groups reach as before: Ada is in Engineering through Backend.
    let names: BTreeSet<String> = groups_of(&app, &target, &ada)
        .await
        .into_iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["Backend", "Engineering"].map(String::from))
    );
}

#[tokio::test]
async fn an_import_run_again_changes_nothing_and_matches_by_external_id_then_email() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let file = [
        json!({"object": "group", "name": "ops"}),
        json!({"object": "user", "email": "a@acme.com", "firstName": "A", "lastName": "One", "externalId": "x-1", "groups": ["ops"]}),
        json!({"object": "user", "email": "b@acme.com", "firstName": "B", "lastName": "Two", "groups": ["ops", "oncall"], "defaultGroup": "oncall"}),
    ];
    let (_, first) = import(&app, &t.id, &t.admin, "", &ndjson(&file)).await;
    assert_eq!(statuses(&first), ["created", "created", "created"]);
    let (_, again) = import(&app, &t.id, &t.admin, "", &ndjson(&file)).await;
    assert_eq!(statuses(&again), ["unchanged", "unchanged", "unchanged"]);
    assert_eq!(first[1]["id"], again[1]["id"]);

    // Matched by its external id, the user takes the file's new email; b by email.
    let changed = [
        json!({"object": "user", "email": "a.one@acme.com", "firstName": "A", "lastName": "One", "externalId": "x-1"}),
        json!({"object": "user", "email": "B@ACME.COM", "firstName": "Bea", "lastName": "Two"}),
    ];
    let (_, results) = import(&app, &t.id, &t.admin, "", &ndjson(&changed)).await;
    assert_eq!(statuses(&results), ["updated", "updated"]);
    assert_eq!(results[0]["id"], first[1]["id"]);
    let users = app.all_users(&t).await;
    assert_eq!(users.len(), 2);
    let a = users.iter().find(|u| u["externalId"] == "x-1").unwrap();
    assert_eq!(a["email"], "a.one@acme.com");
    let b = users.iter().find(|u| u["firstName"] == "Bea").unwrap();
    let groups = groups_of(&app, &t, b).await;
    assert_eq!(groups.len(), 2, "ops and oncall stay");
    let oncall = groups.iter().find(|g| g["name"] == "oncall").unwrap();
    assert_eq!(b["defaultGroupId"], oncall["id"]);
}

#[tokio::test]
async fn refused_lines_name_their_line_field_and_reason_and_the_rest_is_imported() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.user(&t, "taken@acme.com").await;
    let file = "\
{\"object\": \"user\", \"email\": \"ok@acme.com\", \"firstName\": \"O\", \"lastName\": \"K\"}
{\"object\": \"user\", \"email\": \"not an email\", \"firstName\": \"N\", \"lastName\": \"E\"}
not json at all

{\"object\": \"user\", \"email\": \"x@acme.com\", \"firstName\": \"X\", \"lastName\": \"Y\", \"attributes\": {\"nope\": 1}}
{\"object\": \"user\", \"email\": \"OK@acme.com\", \"firstName\": \"O\", \"lastName\": \"K\"}
{\"object\": \"user\", \"email\": \"z@acme.com\", \"userName\": \"taken@acme.com\", \"firstName\": \"Z\", \"lastName\": \"Z\"}
{\"object\": \"widget\"}
{\"object\": \"group\", \"name\": \"a\", \"parents\": [\"b\"]}
{\"object\": \"group\", \"name\": \"b\", \"parents\": [\"a\"]}
{\"object\": \"apiKey\", \"name\": \"k\"}
{\"object\": \"user\", \"email\": \"last@acme.com\", \"firstName\": \"L\", \"lastName\": \"L\"}
";
    let (status, results) = import(&app, &t.id, &t.admin, "", file).await;
    assert_eq!(status, 200);
    let by_line = |n: u64| results.iter().find(|r| r["line"] == n).unwrap();
    assert_eq!(by_line(1)["status"], "created");
    assert_eq!(by_line(2)["errors"][0]["field"], "email");
    assert_eq!(by_line(3)["status"], "failed");
    assert!(
        results.iter().all(|r| r["line"] != 4),
        "a blank line is no record"
    );
    assert_eq!(by_line(5)["errors"][0]["field"], "attributes.nope");
    assert_eq!(
        by_line(6)["status"],
        "failed",
        "the same user twice in a batch"
    );
    assert_eq!(by_line(7)["errors"][0]["field"], "userName");
    assert_eq!(by_line(8)["errors"][0]["field"], "object");
    assert_eq!(by_line(9)["status"], "created");
    assert_eq!(by_line(10)["errors"][0]["field"], "parents");
    assert!(
        by_line(10)["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("cycle")
    );
    assert_eq!(by_line(11)["status"], "skipped");
    assert_eq!(by_line(12)["status"], "created");
    assert_eq!(summary(&results)["failed"], 7);
    let emails: BTreeSet<String> = app
        .all_users(&t)
        .await
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        emails,
        BTreeSet::from(["ok@acme.com", "taken@acme.com", "last@acme.com"].map(String::from))
    );
}

#[tokio::test]
async fn a_dry_run_and_an_atomic_import_with_a_refused_line_write_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let good = json!({"object": "user", "email": "g@acme.com", "firstName": "G", "lastName": "G", "groups": ["new"]});
    let bad = json!({"object": "user", "email": "bad", "firstName": "B", "lastName": "B"});

    let (_, dry) = import(
        &app,
        &t.id,
        &t.admin,
        "?dryRun=true",
        &ndjson(std::slice::from_ref(&good)),
    )
    .await;
    assert_eq!(statuses(&dry), ["created"]);
    assert_eq!(dry.last().unwrap()["dryRun"], true);
    assert!(app.all_users(&t).await.is_empty());

    let (_, atomic) = import(
        &app,
        &t.id,
        &t.admin,
        "?atomic=true",
        &ndjson(&[good.clone(), bad.clone()]),
    )
    .await;
    assert_eq!(
        statuses(&atomic),
        ["failed"],
        "only the refused line is reported"
    );
    assert_eq!(atomic.last().unwrap()["complete"], false);
    assert!(app.all_users(&t).await.is_empty());
    let groups = expect_json(
        app.get(&format!("/v1/tenants/{}/groups", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert!(
        groups["items"].as_array().unwrap().is_empty(),
        "nor its group"
    );

    let (_, atomic) = import(&app, &t.id, &t.admin, "?atomic=true", &ndjson(&[good])).await;
    assert_eq!(statuses(&atomic), ["created"]);
    assert_eq!(app.all_users(&t).await.len(), 1);
}

#[tokio::test]
async fn imported_hashes_sign_in_and_only_the_operator_exports_hashes_audited() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let line = json!({"object": "user", "email": "legacy@acme.com", "firstName": "L", "lastName": "H", "passwordHash": BCRYPT});
    let (_, results) = import(&app, &t.id, &t.admin, "", &ndjson(&[line])).await;
    assert_eq!(statuses(&results), ["created"]);
    expect_json(login(&app, &t.id, "legacy@acme.com", PASSWORD).await, 200).await;

    let problem = expect_problem(
        app.get(
            &format!("/v1/tenants/{}/export?passwordHashes=true", t.id),
            &t.admin,
        )
        .await,
        403,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("operator"));
    let lines = export(&app, &t.id, OPERATOR_TOKEN, "?passwordHashes=true").await;
    assert_eq!(lines[0]["passwordHashes"], true);
    let user = lines.iter().find(|l| l["object"] == "user").unwrap();
    assert!(
        user["passwordHash"]
            .as_str()
            .unwrap()
            .starts_with("$argon2id$"),
        "re-hashed at the sign-in"
    );
    let events = expect_json(
        app.get(
            &format!(
                "/v1/tenants/{}/audit-events?action=directory.export_with_hashes",
                t.id
            ),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
    let events = expect_json(
        app.get(
            &format!("/v1/tenants/{}/audit-events?action=directory.import", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(events["items"][0]["details"]["created"], 1);

    // The hashes carried over sign the user in, in another tenant.
    let other = app.tenant().await;
    let (_, results) = import(&app, &other.id, &other.admin, "", &ndjson(&lines)).await;
    assert_eq!(summary(&results)["created"], 1);
    expect_json(
        login(&app, &other.id, "legacy@acme.com", PASSWORD).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn readers_and_other_tenants_can_neither_import_nor_export() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let reader = app.api_key(&t.id, "reader").await;
    let line = ndjson(&[
        json!({"object": "user", "email": "r@acme.com", "firstName": "R", "lastName": "R"}),
    ]);
    let (status, _) = import(&app, &t.id, &reader, "", &line).await;
    assert_eq!(status, 403);
    expect_problem(
        app.get(&format!("/v1/tenants/{}/export", t.id), &reader)
            .await,
        403,
    )
    .await;
    let (status, _) = import(&app, &t.id, &other.admin, "", &line).await;
    assert_eq!(status, 404);
    expect_problem(
        app.get(&format!("/v1/tenants/{}/export", t.id), &other.admin)
            .await,
        404,
    )
    .await;
    let (status, body) = import(&app, &t.id, &t.admin, "?format=xml", &line).await;
    assert_eq!(status, 400, "{body:?}");
    let (status, body) = import(&app, &t.id, &t.admin, "", "").await;
    assert_eq!(status, 200, "an empty file: {body:?}");
    assert_eq!(summary(&body)["lines"], 0);
    assert!(app.all_users(&t).await.is_empty());
}

// The CLI runs as a blocking child process while this runtime serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_imports_and_exports_on_the_database_and_through_the_server() {
    let app = TestApp::spawn().await;
    let t = furnished(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ndjson");
    let url = app.database_url().to_owned();
    let out = roster(
        &[
            "export",
            "--tenant",
            &t.id,
            "--database-url",
            &url,
            "--password-hashes",
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(exported.lines().count(), 7);
    assert!(exported.contains("$argon2id$"), "the CLI is the operator");

    // Into the database directly: JSON progress on a pipe, the summary on stdout.
    let target = app.tenant().await;
    let out = roster(
        &[
            "import",
            "--tenant",
            &target.id,
            "--database-url",
            &url,
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["created"], 5);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let progress: Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l.get("progress").is_some())
        .expect("a JSON progress line");
    assert_eq!(progress["progress"]["lines"], 7);
    for field in ["linesPerSecond", "etaSeconds", "bytes", "totalBytes"] {
        assert!(progress["progress"].get(field).is_some(), "{field}");
    }
    expect_json(login(&app, &target.id, "ada@acme.com", PASSWORD).await, 200).await;

    // Through the server, with a refused line: non-zero exit, the line on stdout.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(
        &bad,
        "{\"object\": \"user\", \"email\": \"new@acme.com\", \"firstName\": \"N\", \"lastName\": \"N\"}\n{\"object\": \"user\", \"email\": \"nope\"}\n",
    )
    .unwrap();
    let server = format!("http://{}", app.addr);
    let out = roster(
        &[
            "import",
            "--tenant",
            &target.id,
            "--server",
            &server,
            bad.to_str().unwrap(),
        ],
        &[("ROSTER_TOKEN", &target.admin)],
    );
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[0]["status"], "failed");
    assert_eq!(lines.last().unwrap()["summary"]["created"], 1);

    let served = dir.path().join("served.ndjson");
    let out = roster(
        &[
            "export",
            "--tenant",
            &target.id,
            "--server",
            &server,
            "--output",
            served.to_str().unwrap(),
        ],
        &[("ROSTER_TOKEN", &target.admin)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&served)
            .unwrap()
            .contains("new@acme.com")
    );
    let out = roster(
        &[
            "export",
            "--tenant",
            &target.id,
            "--server",
            &server,
            "--password-hashes",
        ],
        &[("ROSTER_TOKEN", &target.admin)],
    );
    assert!(!out.status.success(), "hashes are the operator's");
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));
}
