//! The change feed, `GET /v1/tenants/{t}/events`: every committed change of a tenant's
//! users, groups and memberships, in commit order, read by a cursor that misses
//! nothing and repeats nothing, long-polled with `wait`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{
    OPERATOR_TOKEN, TestApp, TestTenant, expect_json, expect_problem, problem_fields,
};
use crate::transfer::{import, ndjson, statuses};

/// One read of the feed.
async fn read(app: &TestApp, t: &TestTenant, query: &str) -> Value {
    let path = format!("/v1/tenants/{}/events?{query}", t.id);
    expect_json(app.get(&path, &t.admin).await, 200).await
}

/// Every event after `after`, read page by page (`limit` a read).
async fn all_after(app: &TestApp, t: &TestTenant, after: &str, limit: u32) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = after.to_owned();
    loop {
        let page = read(app, t, &format!("after={cursor}&limit={limit}")).await;
        let items = page["events"].as_array().unwrap();
        if items.is_empty() {
            assert_eq!(
                page["nextCursor"],
                cursor.as_str(),
                "an empty read keeps the cursor"
            );
            return events;
        }
        events.extend(items.iter().cloned());
        cursor = page["nextCursor"].as_str().unwrap().to_owned();
        assert_eq!(events.last().unwrap()["position"], cursor.as_str());
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn positions(events: &[Value]) -> Vec<u64> {
    let of = |e: &Value| e["position"].as_str().unwrap().parse::<u64>().unwrap();
    events.iter().map(of).collect()
}

#[tokio::test]
async fn every_change_of_users_groups_and_memberships_is_in_the_feed_in_commit_order() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let empty = read(&app, &t, "").await;
    assert_eq!(
        empty,
        json!({"events": [], "nextCursor": "0", "lastPosition": "0"})
    );

    let user = app.user(&t, "ada@acme.com").await;
    let uid = user["id"].as_str().unwrap();
    let users = format!("/v1/tenants/{}/users", t.id);
    let change = json!({"lastName": "Lovelace", "profile": {"title": "Analyst"}});
    expect_json(
        app.patch(&format!("{users}/{uid}"), &t.admin, &change)
            .await,
        200,
    )
    .await;
    // A change that changes nothing is no change.
    expect_json(
        app.patch(&format!("{users}/{uid}"), &t.admin, &change)
            .await,
        200,
    )
    .await;
    let group = app.group(&t, "Engines").await;
    let gid = group["id"].as_str().unwrap();
    let groups = format!("/v1/tenants/{}/groups", t.id);
    let member = format!("{groups}/{gid}/members/{uid}");
    assert_eq!(app.put(&member, &t.admin).await.status(), 204);
    let rename = json!({"name": "Analytical Engines", "description": "Babbage's"});
    expect_json(
        app.patch(&format!("{groups}/{gid}"), &t.admin, &rename)
            .await,
        200,
    )
    .await;
    assert_eq!(app.delete(&member, &t.admin).await.status(), 204);
    assert_eq!(
        app.delete(&format!("{users}/{uid}"), &t.admin)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.delete(&format!("{groups}/{gid}"), &t.admin)
            .await
            .status(),
        204
    );

    let events = all_after(&app, &t, "0", 3).await;
    assert_eq!(
        types(&events),
        [
            "user.created",
            "user.updated",
            "group.created",
            "group.member_added",
            "group.updated",
            "group.member_removed",
            "user.deleted",
            "group.deleted",
        ]
    );
    assert_eq!(positions(&events), (1..=8).collect::<Vec<_>>());
    let ids: BTreeSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 8, "each event has its own id");

    let user_object = |version: Option<i64>| match version {
        Some(v) => json!({"kind": "user", "id": uid, "version": v}),
        None => json!({"kind": "user", "id": uid}),
    };
    assert_eq!(events[0]["object"], user_object(Some(1)));
    assert_eq!(
        events[0]["changed"],
        json!(["email", "firstName", "lastName", "role", "status", "emails"])
    );
    assert_eq!(events[0]["actor"]["kind"], "api_key");
    assert_eq!(events[1]["object"], user_object(Some(2)));
    assert_eq!(events[1]["changed"], json!(["lastName", "title"]));
    assert_eq!(
        events[2]["object"],
        json!({"kind": "group", "id": gid, "version": 1})
    );
    assert_eq!(events[2]["changed"], json!(["name", "owner"]));
    for membership in [&events[3], &events[5]] {
        assert_eq!(membership["object"], json!({"kind": "group", "id": gid}));
        assert_eq!(membership["member"], json!({"kind": "user", "id": uid}));
        assert_eq!(membership["changed"], json!([]));
    }
    assert_eq!(events[4]["changed"], json!(["name", "description"]));
    assert_eq!(events[6]["object"], user_object(None));
    assert_eq!(events[7]["object"], json!({"kind": "group", "id": gid}));
    assert!(
        events
            .iter()
            .all(|e| e["member"].is_null() || e["type"].as_str().unwrap().contains("member"))
    );

    // From the start, from the middle, and past the end.
    let page = read(&app, &t, "limit=2").await;
    assert_eq!(positions(page["events"].as_array().unwrap()), [1, 2]);
    assert_eq!(page["nextCursor"], "2");
    assert_eq!(page["lastPosition"], "8");
    let page = read(&app, &t, "after=5").await;
    assert_eq!(positions(page["events"].as_array().unwrap()), [6, 7, 8]);
    let page = read(&app, &t, "after=8").await;
    assert_eq!(
        page,
        json!({"events": [], "nextCursor": "8", "lastPosition": "8"})
    );

    // Another tenant's feed has its own positions, and shows nothing of this one.
    let other = app.tenant().await;
    app.user(&other, "grace@acme.com").await;
    let theirs = all_after(&app, &other, "0", 100).await;
    assert_eq!(types(&theirs), ["user.created"]);
    assert_eq!(positions(&theirs), [1]);
    let path = format!("/v1/tenants/{}/events", t.id);
    expect_problem(app.get(&path, &other.admin).await, 404).await;
}

#[tokio::test]
async fn bad_reads_of_the_feed_are_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.user(&t, "a@acme.com").await;
    for (query, field) in [
        ("after=-1", "after"),
        ("after=abc", "after"),
        ("after=2", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("wait=61", "wait"),
        ("wait=-1", "wait"),
    ] {
        let path = format!("/v1/tenants/{}/events?{query}", t.id);
        let problem = expect_problem(app.get(&path, &t.admin).await, 400).await;
        let fields = problem_fields(&problem);
        assert_eq!(fields, [field], "{query}: {problem}");
    }
    let path = format!("/v1/tenants/{}/events?cursor=3", t.id);
    let problem = expect_problem(app.get(&path, &t.admin).await, 400).await;
    let detail = problem["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("unknown field `cursor`"), "{problem}");
    // A reader may follow the feed; a request without a credential may not.
    let reader = app.api_key(&t.id, "reader").await;
    let path = format!("/v1/tenants/{}/events", t.id);
    expect_json(app.get(&path, &reader).await, 200).await;
    expect_problem(app.get(&path, "nonsense").await, 401).await;
    expect_json(app.get(&path, OPERATOR_TOKEN).await, 200).await;
}

#[tokio::test]
async fn a_waiting_read_answers_when_a_change_commits_here_or_on_another_instance() {
    let app = TestApp::spawn().await;
    let other = app.spawn_sharing(|_| {}).await;
    let t = app.tenant().await;
    for (instance, email) in [(&app, "here@acme.com"), (&other, "there@acme.com")] {
        let last = read(&app, &t, "").await["lastPosition"]
            .as_str()
            .unwrap()
            .to_owned();
        let started = Instant::now();
        let query = format!("after={last}&wait=25");
        let waiting = read(&app, &t, &query);
        let writing = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            instance.user(&t, email).await
        };
        let (page, user) = tokio::join!(waiting, writing);
        let events = page["events"].as_array().unwrap();
        assert_eq!(types(events), ["user.created"]);
        assert_eq!(events[0]["object"]["id"], user["id"]);
        // Answered at the change, not at the end of the wait (a commit on another
        // instance is seen at the next look, within a second).
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{email}: {:?}",
            started.elapsed()
        );
    }
    // With nothing to report, a wait ends empty-handed.
    let last = read(&app, &t, "").await["lastPosition"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = read(&app, &t, &format!("after={last}&wait=1")).await;
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["nextCursor"], last.as_str());
}

#[tokio::test]
async fn a_follower_sees_every_committed_change_once_while_writers_race() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let users = format!("/v1/tenants/{}/users", t.id);
    // 96 creates, 16 at a time, one in four of an address already taken (refused,
    // and so never in the feed), each created user then renamed.
    let writers = futures_util::stream::iter(0..96)
        .map(|i| {
            let users = users.clone();
            let app = &app;
            let t = &t;
            async move {
                let email = format!("racer{}@acme.com", i - i % 4 * usize::from(i % 4 == 3));
                let body = json!({"email": email, "firstName": "R", "lastName": "R"});
                let created = app.post(&users, &t.admin, &body).await;
                if created.status() != 201 {
                    assert_eq!(created.status(), 409);
                    return None;
                }
                let user: Value = created.json().await.unwrap();
                let id = user["id"].as_str().unwrap().to_owned();
                let rename = json!({"lastName": format!("Renamed {i}")});
                expect_json(
                    app.patch(&format!("{users}/{id}"), &t.admin, &rename).await,
                    200,
                )
                .await;
                Some(id)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    let done = std::sync::atomic::AtomicBool::new(false);
    let follower = async {
        let mut seen = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let page = read(&app, &t, &format!("after={cursor}&limit=7&wait=1")).await;
            let events = page["events"].as_array().unwrap();
            seen.extend(events.iter().cloned());
            cursor = page["nextCursor"].as_str().unwrap().to_owned();
            if finished && events.is_empty() {
                return seen;
            }
        }
    };
    let writing = async {
        let ids = writers.await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        ids
    };
    let (ids, seen) = tokio::join!(writing, follower);
    let created: BTreeSet<String> = ids.into_iter().flatten().collect();
    assert_eq!(created.len(), 72, "three in four creates are new addresses");

    assert_eq!(
        positions(&seen),
        (1..=seen.len() as u64).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    let of_type = |kind: &str| -> Vec<String> {
        (seen.iter().filter(|e| e["type"] == kind))
            .map(|e| e["object"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let born: BTreeSet<String> = of_type("user.created").into_iter().collect();
    assert_eq!(born, created);
    assert_eq!(of_type("user.created").len(), 72, "each creation once");
    assert_eq!(of_type("user.updated").len(), 72, "each rename once");
    // Each user's update follows its creation.
    for id in &created {
        let at = |kind: &str| {
            seen.iter()
                .position(|e| e["type"] == kind && e["object"]["id"] == id.as_str())
        };
        assert!(at("user.created") < at("user.updated"), "{id}");
    }
    let read_again = all_after(&app, &t, "0", 1000).await;
    assert_eq!(read_again, seen, "a second reader sees the same feed");
}

#[tokio::test]
async fn an_import_announces_each_user_and_group_it_makes_or_changes() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let lines = [
        json!({"object": "user", "email": "a@acme.com", "firstName": "A", "lastName": "A", "groups": ["Ops"]}),
        json!({"object": "user", "email": "b@acme.com", "firstName": "B", "lastName": "B"}),
        json!({"object": "user", "email": "bad", "firstName": "C", "lastName": "C"}),
    ];
    let (status, results) = import(&app, &t.id, &t.admin, "", &ndjson(&lines)).await;
    assert_eq!(status, 200);
    assert_eq!(statuses(&results), ["created", "created", "failed"]);
    let events = all_after(&app, &t, "0", 100).await;
    let mut kinds = types(&events);
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "group.created",
            "group.member_added",
            "user.created",
            "user.created"
        ]
    );
    // The same file again changes nothing, and the feed says nothing more.
    import(&app, &t.id, &t.admin, "", &ndjson(&lines)).await;
    let changed =
        [json!({"object": "user", "email": "b@acme.com", "firstName": "B", "lastName": "Bee"})];
    import(&app, &t.id, &t.admin, "", &ndjson(&changed)).await;
    let after = events.last().unwrap()["position"].as_str().unwrap();
    let more = all_after(&app, &t, after, 100).await;
    assert_eq!(types(&more), ["user.updated"]);
    assert_eq!(more[0]["changed"], json!(["lastName"]));
}

#[tokio::test]
async fn changes_past_their_retention_are_removed_and_a_reader_behind_them_is_told() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for i in 0..5 {
        app.user(&t, &format!("old{i}@acme.com")).await;
    }
    let store = app.store().await;
    let later = roster::domain::Timestamp::now().plus_seconds(1);
    assert_eq!(store.prune_changes(later).await.unwrap(), 5);
    assert_eq!(store.prune_changes(later).await.unwrap(), 0, "once");

    let problem = expect_problem(
        app.get(&format!("/v1/tenants/{}/events?after=2", t.id), &t.admin)
            .await,
        410,
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("after position 5"),
        "{problem}"
    );
    // From the oldest kept, and at the last position removed: nothing missed.
    let page = read(&app, &t, "").await;
    assert_eq!(
        page,
        json!({"events": [], "nextCursor": "5", "lastPosition": "5"})
    );
    app.user(&t, "new@acme.com").await;
    let page = read(&app, &t, "after=5").await;
    assert_eq!(positions(page["events"].as_array().unwrap()), [6]);
    assert_eq!(read(&app, &t, "").await["events"], page["events"]);
}

#[tokio::test]
async fn a_password_set_is_a_change_that_names_the_password_and_holds_nothing_of_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = app.user(&t, "p@acme.com").await;
    let uid = user["id"].as_str().unwrap();
    let secret = "a brand new passphrase for the feed";
    let put = app
        .request(
            reqwest::Method::PUT,
            &format!("/v1/tenants/{}/users/{uid}/password", t.id),
            &t.admin,
        )
        .json(&json!({"password": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let events = all_after(&app, &t, "1", 100).await;
    assert_eq!(types(&events), ["user.updated"]);
    assert_eq!(events[0]["changed"], json!(["password"]));
    assert_eq!(events[0]["object"]["version"], 2);
    let raw = read(&app, &t, "").await.to_string();
    assert!(!raw.contains(secret) && !raw.contains("argon2"), "{raw}");
}
