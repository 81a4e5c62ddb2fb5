//! Nested groups: groups as members of groups, on /v1 and SCIM. Effective membership
//! (at any depth) is what a user's groups and a group's members mean unless a list
//! asks for direct ones; no change may make a cycle, also when two close one together.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, expect_json, expect_problem, problem_fields};
use crate::scim::{GROUP, PATCH, expect_error, expect_scim, scim};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// The ids of a list's items, every page of it read (pages of two, unless the path
/// says otherwise).
async fn ids(app: &TestApp, t: &TestTenant, path: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let path = match (path.contains("limit="), path.contains('?')) {
        (true, _) => path.to_owned(),
        (false, true) => format!("{path}&limit=2"),
        (false, false) => format!("{path}?limit=2"),
    };
    loop {
        let page_path = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.clone(),
        };
        let page = expect_json(app.get(&page_path, &t.admin).await, 200).await;
        for item in page["items"].as_array().unwrap() {
            assert!(found.insert(id(item)), "listed twice: {item}");
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return found,
        }
    }
}

fn set<const N: usize>(items: [&String; N]) -> BTreeSet<String> {
    items.into_iter().cloned().collect()
}

/// A tenant with groups top ⊃ middle ⊃ bottom and users `a` (in bottom), `b` (in
/// middle) and `c` (in no group).
struct Tree {
    t: TestTenant,
    top: String,
    middle: String,
    bottom: String,
    a: String,
    b: String,
    c: String,
}

impl Tree {
    async fn new(app: &TestApp) -> Tree {
        let t = app.tenant().await;
        let top = id(&app.group(&t, "Top").await);
        let middle = id(&app.group(&t, "Middle").await);
        let bottom = id(&app.group(&t, "Bottom").await);
        let a = id(&app.user(&t, "a@acme.test").await);
        let b = id(&app.user(&t, "b@acme.test").await);
        let c = id(&app.user(&t, "c@acme.test").await);
        let tree = Tree {
            t,
            top,
            middle,
            bottom,
            a,
            b,
            c,
        };
        tree.nest(app, &tree.top, &tree.middle, 204).await;
        tree.nest(app, &tree.middle, &tree.bottom, 204).await;
        tree.join(app, &tree.bottom, &tree.a).await;
        tree.join(app, &tree.middle, &tree.b).await;
        tree
    }

    fn groups(&self) -> String {
        format!("/v1/tenants/{}/groups", self.t.id)
    }

    async fn nest(&self, app: &TestApp, group: &str, member: &str, status: u16) -> Value {
        let path = format!("{}/{group}/subgroups/{member}", self.groups());
        let response = app.put(&path, &self.t.admin).await;
        if status == 204 {
            assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
            Value::Null
        } else {
            expect_problem(response, status).await
        }
    }

    async fn join(&self, app: &TestApp, group: &str, user: &str) {
        let path = format!("{}/{group}/members/{user}", self.groups());
        assert_eq!(app.put(&path, &self.t.admin).await.status(), 204);
    }

    async fn members(&self, app: &TestApp, group: &str, membership: &str) -> BTreeSet<String> {
        let path = format!("{}/{group}/members?membership={membership}", self.groups());
        ids(app, &self.t, &path).await
    }

    async fn groups_of(&self, app: &TestApp, user: &str, membership: &str) -> BTreeSet<String> {
        let path = format!(
            "/v1/tenants/{}/users/{user}/groups?membership={membership}",
            self.t.id
        );
        ids(app, &self.t, &path).await
    }
}

#[tokio::test]
async fn a_groups_members_are_its_users_and_those_of_the_groups_within_it() {
    let app = TestApp::spawn().await;
    let tree = Tree::new(&app).await;
    let (top, middle, bottom) = (&tree.top, &tree.middle, &tree.bottom);

    // Effective is the default; direct lists what was made a member.
    assert_eq!(
        tree.members(&app, top, "effective").await,
        set([&tree.a, &tree.b])
    );
    let default = ids(&app, &tree.t, &format!("{}/{top}/members", tree.groups())).await;
    assert_eq!(default, set([&tree.a, &tree.b]));
    assert!(tree.members(&app, top, "direct").await.is_empty());
    assert_eq!(tree.members(&app, middle, "direct").await, set([&tree.b]));
    assert_eq!(
        tree.groups_of(&app, &tree.a, "effective").await,
        set([top, middle, bottom])
    );
    assert_eq!(tree.groups_of(&app, &tree.a, "direct").await, set([bottom]));
    assert!(tree.groups_of(&app, &tree.c, "effective").await.is_empty());

    // The groups within a group and those it is within, both ways and depths.
    let within = |g: &str, m: &str| format!("{}/{g}/subgroups?membership={m}", tree.groups());
    let above = |g: &str, m: &str| format!("{}/{g}/parents?membership={m}", tree.groups());
    assert_eq!(
        ids(&app, &tree.t, &within(top, "effective")).await,
        set([middle, bottom])
    );
    assert_eq!(
        ids(&app, &tree.t, &within(top, "direct")).await,
        set([middle])
    );
    assert_eq!(
        ids(&app, &tree.t, &above(bottom, "effective")).await,
        set([top, middle])
    );
    assert_eq!(
        ids(&app, &tree.t, &above(bottom, "direct")).await,
        set([middle])
    );

    // The user list's group filter means effective membership.
    let users = format!("/v1/tenants/{}/users?groupId={top}", tree.t.id);
    assert_eq!(ids(&app, &tree.t, &users).await, set([&tree.a, &tree.b]));

    // A bad membership is refused, naming the parameter.
    let bad = format!("{}/{top}/members?membership=all", tree.groups());
    let problem = expect_problem(app.get(&bad, &tree.t.admin).await, 400).await;
    assert_eq!(problem_fields(&problem), ["membership"]);

    // Adding a member group again changes nothing; taking it out ends what came
    // through it, and a second removal is not found.
    tree.nest(&app, top, middle, 204).await;
    let path = format!("{}/{top}/subgroups/{middle}", tree.groups());
    assert_eq!(app.delete(&path, &tree.t.admin).await.status(), 204);
    expect_problem(app.delete(&path, &tree.t.admin).await, 404).await;
    assert!(tree.members(&app, top, "effective").await.is_empty());
    assert_eq!(
        tree.groups_of(&app, &tree.a, "effective").await,
        set([middle, bottom])
    );

    // An unknown group is not found, on either side.
    let unknown = "00000000-0000-4000-8000-000000000000";
    tree.nest(&app, top, unknown, 404).await;
    tree.nest(&app, unknown, top, 404).await;
}

#[tokio::test]
async fn a_change_that_would_make_a_cycle_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let tree = Tree::new(&app).await;
    let (top, middle, bottom) = (&tree.top, &tree.middle, &tree.bottom);

    let itself = tree.nest(&app, top, top, 409).await;
    assert_eq!(itself["type"], "urn:roster:problem:cycle");
    assert!(
        itself["detail"]
            .as_str()
            .unwrap()
            .contains("member of itself"),
        "{itself}"
    );
    let through = tree.nest(&app, bottom, top, 409).await;
    assert_eq!(through["type"], "urn:roster:problem:cycle");
    tree.nest(&app, middle, top, 409).await;

    // SCIM refuses the same as an invalid value, and nothing changes.
    let scim_key = app.api_key(&tree.t.id, "admin").await;
    let add_top = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": tree.c}, {"value": top, "type": "Group"}]}
    ]});
    let refused = expect_error(
        scim(
            &app,
            Method::PATCH,
            &format!("/Groups/{bottom}"),
            &scim_key,
            Some(add_top),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("cycle"),
        "{refused}"
    );
    assert_eq!(tree.members(&app, bottom, "direct").await, set([&tree.a]));
    let within_bottom = format!("{}/{bottom}/subgroups", tree.groups());
    assert!(ids(&app, &tree.t, &within_bottom).await.is_empty());

    // Replacing members so that a cycle closes is refused as well.
    let put = json!({"schemas": [GROUP], "displayName": "Bottom", "members": [{"value": middle}]});
    expect_error(
        scim(
            &app,
            Method::PUT,
            &format!("/Groups/{bottom}"),
            &scim_key,
            Some(put),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
}

#[tokio::test]
async fn two_groups_of_two_paths_keep_a_member_until_both_end() {
    let app = TestApp::spawn().await;
    let tree = Tree::new(&app).await;
    // A second path from top to bottom: top ⊃ side ⊃ bottom.
    let side = id(&app.group(&tree.t, "Side").await);
    tree.nest(&app, &tree.top, &side, 204).await;
    tree.nest(&app, &side, &tree.bottom, 204).await;
    // And `a` a direct member of top as well.
    tree.join(&app, &tree.top, &tree.a).await;

    let unnest = |g: &str, m: &str| format!("{}/{g}/subgroups/{m}", tree.groups());
    assert_eq!(
        app.delete(&unnest(&tree.middle, &tree.bottom), &tree.t.admin)
            .await
            .status(),
        204
    );
    assert!(
        tree.members(&app, &tree.top, "effective")
            .await
            .contains(&tree.a)
    );
    assert_eq!(
        app.delete(&unnest(&side, &tree.bottom), &tree.t.admin)
            .await
            .status(),
        204
    );
    // Still a direct member of top.
    assert!(
        tree.members(&app, &tree.top, "effective")
            .await
            .contains(&tree.a)
    );
    let membership = format!("{}/{}/members/{}", tree.groups(), tree.top, tree.a);
    assert_eq!(app.delete(&membership, &tree.t.admin).await.status(), 204);
    assert!(
        !tree
            .members(&app, &tree.top, "effective")
            .await
            .contains(&tree.a)
    );
    assert_eq!(
        tree.groups_of(&app, &tree.a, "effective").await,
        set([&tree.bottom])
    );
}

#[tokio::test]
async fn deleting_a_group_takes_it_out_of_its_parents_and_its_members_out_of_theirs() {
    let app = TestApp::spawn().await;
    let tree = Tree::new(&app).await;
    let top_path = format!("{}/{}", tree.groups(), tree.top);
    let etag = |response: reqwest::Response| response.headers()["etag"].clone();
    let before = etag(app.get(&top_path, &tree.t.admin).await);

    let middle = format!("{}/{}", tree.groups(), tree.middle);
    assert_eq!(app.delete(&middle, &tree.t.admin).await.status(), 204);

    assert!(tree.members(&app, &tree.top, "effective").await.is_empty());
    assert_eq!(
        tree.groups_of(&app, &tree.a, "effective").await,
        set([&tree.bottom])
    );
    assert!(tree.groups_of(&app, &tree.b, "effective").await.is_empty());
    let above = format!("{}/{}/parents", tree.groups(), tree.bottom);
    assert!(ids(&app, &tree.t, &above).await.is_empty());
    // The parent lost a member: its version moved.
    assert_ne!(etag(app.get(&top_path, &tree.t.admin).await), before);

    // The audit log names what changed: the deletion with its users, member groups
    // and parents, and the parent's lost member.
    let events = expect_json(
        app.get(
            &format!("/v1/tenants/{}/audit-events?limit=1000", tree.t.id),
            &tree.t.admin,
        )
        .await,
        200,
    )
    .await;
    let events = events["items"].as_array().unwrap();
    let deleted = events
        .iter()
        .find(|e| e["action"] == "group.delete")
        .expect("a group.delete event");
    assert_eq!(deleted["target"]["id"], tree.middle.as_str());
    assert_eq!(deleted["details"]["userIds"], json!([tree.b]));
    assert_eq!(deleted["details"]["groupIds"], json!([tree.bottom]));
    assert_eq!(deleted["details"]["parentIds"], json!([tree.top]));
    let left = events
        .iter()
        .filter(|e| e["action"] == "group.member.remove" && e["target"]["id"] == tree.top.as_str())
        .collect::<Vec<_>>();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["details"]["groupIds"], json!([tree.middle]));
    let joined = events
        .iter()
        .find(|e| e["action"] == "group.member.add" && e["target"]["id"] == tree.top.as_str())
        .expect("the nesting was audited");
    assert_eq!(joined["details"]["groupIds"], json!([tree.middle]));
}

#[tokio::test]
async fn scim_shows_direct_and_indirect_groups_and_group_members_of_both_types() {
    let app = TestApp::spawn().await;
    let tree = Tree::new(&app).await;
    let key = app.api_key(&tree.t.id, "admin").await;

    // A user's groups: every group at any depth, each typed (RFC 7643 §4.1.2).
    let a = expect_scim(
        scim(&app, Method::GET, &format!("/Users/{}", tree.a), &key, None).await,
        200,
    )
    .await;
    let types: BTreeMap<String, String> = a["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_owned(),
                g["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        types,
        BTreeMap::from([
            (tree.bottom.clone(), "direct".to_owned()),
            (tree.middle.clone(), "indirect".to_owned()),
            (tree.top.clone(), "indirect".to_owned()),
        ])
    );

    // A group's members are its direct ones, typed User or Group.
    let middle = expect_scim(
        scim(
            &app,
            Method::GET,
            &format!("/Groups/{}", tree.middle),
            &key,
            None,
        )
        .await,
        200,
    )
    .await;
    let members: BTreeMap<String, (String, String)> = middle["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["value"].as_str().unwrap().to_owned(),
                (
                    m["type"].as_str().unwrap().to_owned(),
                    m["$ref"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(members.len(), 2, "{middle}");
    assert_eq!(members[&tree.b].0, "User");
    assert_eq!(members[&tree.bottom].0, "Group");
    assert!(
        members[&tree.bottom]
            .1
            .ends_with(&format!("/Groups/{}", tree.bottom))
    );

    // groups.value matches effective members; members.value direct ones of either type.
    let filter = |f: String| format!("/Users?filter={}", urlencode(&f));
    let found = expect_scim(
        scim(
            &app,
            Method::GET,
            &filter(format!("groups.value eq \"{}\"", tree.top)),
            &key,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["totalResults"], 2, "{found}");
    let groups = expect_scim(
        scim(
            &app,
            Method::GET,
            &format!(
                "/Groups?filter={}",
                urlencode(&format!("members.value eq \"{}\"", tree.bottom))
            ),
            &key,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(groups["totalResults"], 1, "{groups}");
    assert_eq!(groups["Resources"][0]["id"], tree.middle.as_str());

    // A group made with a member group, without saying its type.
    let created = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Groups",
            &key,
            Some(json!({"schemas": [GROUP], "displayName": "Everyone", "members": [{"value": tree.top}, {"value": tree.c}]})),
        )
        .await,
        201,
    )
    .await;
    let everyone = id(&created);
    assert_eq!(
        tree.members(&app, &everyone, "effective").await,
        set([&tree.a, &tree.b, &tree.c])
    );

    // PATCH removes a member group by filter, and names the kind it expects.
    let remove = json!({"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{}\"]", tree.top)}
    ]});
    expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Groups/{everyone}"),
            &key,
            Some(remove),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        tree.members(&app, &everyone, "effective").await,
        set([&tree.c])
    );
    let wrong_kind = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": tree.a, "type": "Group"}]}
    ]});
    let refused = expect_error(
        scim(
            &app,
            Method::PATCH,
            &format!("/Groups/{everyone}"),
            &key,
            Some(wrong_kind),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("no group with id"),
        "{refused}"
    );
    let bad_type = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": tree.a, "type": "Robot"}]}
    ]});
    expect_error(
        scim(
            &app,
            Method::PATCH,
            &format!("/Groups/{everyone}"),
            &key,
            Some(bad_type),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
}

#[tokio::test]
async fn a_bulk_member_patch_with_one_unknown_member_changes_nothing() {
    let app = TestApp::spawn().await;
    let tree = Tree::new(&app).await;
    let key = app.api_key(&tree.t.id, "admin").await;
    let users = crate::helpers::create_users(&app, &tree.t, "bulk", 300).await;
    let mut value: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    value.push(json!({"value": tree.middle, "type": "Group"}));
    value.push(json!({"value": "00000000-0000-4000-8000-000000000000"}));
    let add = json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": value}]});
    expect_error(
        scim(
            &app,
            Method::PATCH,
            &format!("/Groups/{}", tree.top),
            &key,
            Some(add.clone()),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert!(tree.members(&app, &tree.top, "direct").await.is_empty());
    assert!(
        tree.groups_of(&app, &users[0], "effective")
            .await
            .is_empty()
    );
    // Without the unknown one, all of it applies at once.
    let mut add = add;
    add["Operations"][0]["value"].as_array_mut().unwrap().pop();
    expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Groups/{}", tree.top),
            &key,
            Some(add),
        )
        .await,
        200,
    )
    .await;
    let members = |m: &str| {
        format!(
            "{}/{}/members?membership={m}&limit=1000",
            tree.groups(),
            tree.top
        )
    };
    assert_eq!(ids(&app, &tree.t, &members("direct")).await.len(), 300);
    assert_eq!(ids(&app, &tree.t, &members("effective")).await.len(), 302);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A small deterministic generator (xorshift), so a failing sequence repeats.
struct Steps(u64);

impl Steps {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

/// The memberships as the API lists them, checked against what the direct ones
/// imply: for every group, its effective members are the direct members of it and
/// of every group below it.
async fn check_effective_memberships(
    app: &TestApp,
    t: &TestTenant,
    groups: &[String],
    users: &[String],
) {
    let base = format!("/v1/tenants/{}/groups", t.id);
    let mut direct_users = BTreeMap::new();
    let mut direct_groups = BTreeMap::new();
    for group in groups {
        direct_users.insert(
            group.clone(),
            ids(app, t, &format!("{base}/{group}/members?membership=direct")).await,
        );
        direct_groups.insert(
            group.clone(),
            ids(
                app,
                t,
                &format!("{base}/{group}/subgroups?membership=direct"),
            )
            .await,
        );
    }
    for group in groups {
        let mut below = BTreeSet::from([group.clone()]);
        let mut queue = vec![group.clone()];
        while let Some(next) = queue.pop() {
            for member in &direct_groups[&next] {
                assert_ne!(member, group, "a cycle through {group}");
                if below.insert(member.clone()) {
                    queue.push(member.clone());
                }
            }
        }
        let expected: BTreeSet<String> =
            below.iter().flat_map(|g| direct_users[g].clone()).collect();
        let effective = ids(
            app,
            t,
            &format!("{base}/{group}/members?membership=effective"),
        )
        .await;
        assert_eq!(effective, expected, "effective members of {group}");
        below.remove(group);
        let within = ids(
            app,
            t,
            &format!("{base}/{group}/subgroups?membership=effective"),
        )
        .await;
        assert_eq!(within, below, "groups within {group}");
    }
    for user in users {
        let of = ids(
            app,
            t,
            &format!(
                "/v1/tenants/{}/users/{user}/groups?membership=effective",
                t.id
            ),
        )
        .await;
        let expected: BTreeSet<String> = groups
            .iter()
            .filter(|g| {
                let path_members = ids_sync_members(g, &direct_users, &direct_groups);
                path_members.contains(user)
            })
            .cloned()
            .collect();
        assert_eq!(of, expected, "effective groups of {user}");
    }
}

/// The users of `group` at any depth, from the direct memberships.
fn ids_sync_members(
    group: &str,
    direct_users: &BTreeMap<String, BTreeSet<String>>,
    direct_groups: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut seen = BTreeSet::from([group.to_owned()]);
    let mut queue = vec![group.to_owned()];
    while let Some(next) = queue.pop() {
        found.extend(direct_users[&next].iter().cloned());
        for member in &direct_groups[&next] {
            if seen.insert(member.clone()) {
                queue.push(member.clone());
            }
        }
    }
    found
}

/// One random change of memberships through /v1 or SCIM; a refused cycle is fine.
async fn random_change(
    app: &TestApp,
    t: &TestTenant,
    scim_key: &str,
    groups: &[String],
    users: &[String],
    steps: &mut Steps,
) {
    let base = format!("/v1/tenants/{}/groups", t.id);
    let group = &groups[steps.next(groups.len())];
    let status = match steps.next(6) {
        0 | 1 => {
            let other = &groups[steps.next(groups.len())];
            app.put(&format!("{base}/{group}/subgroups/{other}"), &t.admin)
                .await
                .status()
        }
        2 => {
            let other = &groups[steps.next(groups.len())];
            app.delete(&format!("{base}/{group}/subgroups/{other}"), &t.admin)
                .await
                .status()
        }
        3 => {
            let user = &users[steps.next(users.len())];
            app.put(&format!("{base}/{group}/members/{user}"), &t.admin)
                .await
                .status()
        }
        4 => {
            let user = &users[steps.next(users.len())];
            app.delete(&format!("{base}/{group}/members/{user}"), &t.admin)
                .await
                .status()
        }
        _ => {
            // SCIM replaces the members with a user and a group.
            let (user, other) = (
                &users[steps.next(users.len())],
                &groups[steps.next(groups.len())],
            );
            let body = json!({"schemas": [PATCH], "Operations": [
                {"op": "replace", "path": "members", "value": [{"value": user}, {"value": other}]}
            ]});
            scim(
                app,
                Method::PATCH,
                &format!("/Groups/{group}"),
                scim_key,
                Some(body),
            )
            .await
            .status()
        }
    };
    assert!(
        matches!(status.as_u16(), 200 | 204 | 404 | 409 | 400),
        "unexpected {status}"
    );
}

#[tokio::test]
async fn effective_memberships_stay_true_to_the_direct_ones_through_random_changes() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let scim_key = app.api_key(&t.id, "admin").await;
    let mut groups = Vec::new();
    for i in 0..8 {
        groups.push(id(&app.group(&t, &format!("G{i}")).await));
    }
    let users = crate::helpers::create_users(&app, &t, "random", 10).await;
    let mut steps = Steps(0x9E37_79B9_7F4A_7C15);
    for _ in 0..120 {
        random_change(&app, &t, &scim_key, &groups, &users, &mut steps).await;
    }
    check_effective_memberships(&app, &t, &groups, &users).await;
    // Deleting groups (and a user) keeps the rest true.
    for group in groups.drain(..3) {
        assert_eq!(
            app.delete(&format!("/v1/tenants/{}/groups/{group}", t.id), &t.admin)
                .await
                .status(),
            204
        );
    }
    let gone = &users[0];
    assert_eq!(
        app.delete(&format!("/v1/tenants/{}/users/{gone}", t.id), &t.admin)
            .await
            .status(),
        204
    );
    check_effective_memberships(&app, &t, &groups, &users[1..]).await;
}

#[tokio::test]
async fn concurrent_changes_never_close_a_cycle_nor_lose_a_membership() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let scim_key = app.api_key(&t.id, "admin").await;
    let base = format!("/v1/tenants/{}/groups", t.id);
    let mut groups = Vec::new();
    for i in 0..6 {
        groups.push(id(&app.group(&t, &format!("C{i}")).await));
    }
    let users = crate::helpers::create_users(&app, &t, "race", 6).await;

    // Pairs nesting each other at once: exactly one of each pair succeeds.
    for round in 0..5 {
        let (x, y) = (&groups[round % 6], &groups[(round + 1) % 6]);
        let (x_in_y, y_in_x) = (
            format!("{base}/{y}/subgroups/{x}"),
            format!("{base}/{x}/subgroups/{y}"),
        );
        let (one, two) = tokio::join!(app.put(&y_in_x, &t.admin), app.put(&x_in_y, &t.admin));
        let mut statuses = [one.status().as_u16(), two.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [204, 409]);
        // Undo, so the next round starts from no nesting.
        app.delete(&y_in_x, &t.admin).await;
        app.delete(&x_in_y, &t.admin).await;
    }

    // A ring of three closed by three concurrent requests: two succeed, the third
    // would close it.
    let ring: Vec<String> = (0..3)
        .map(|i| format!("{base}/{}/subgroups/{}", groups[i], groups[(i + 1) % 3]))
        .collect();
    let ring = ring.iter().map(|path| app.put(path, &t.admin));
    let statuses: Vec<u16> = futures_util::future::join_all(ring)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        1,
        "{statuses:?}"
    );

    // Many random changes at once, from four clients: whatever order they land in,
    // the effective memberships are what the direct ones imply.
    let clients = (0..4u64).map(|client| {
        let (app, t, scim_key, groups, users) = (&app, &t, &scim_key, &groups, &users);
        async move {
            let mut steps = Steps(0xA076_1D64_78BD_642F ^ (client + 1));
            for _ in 0..40 {
                random_change(app, t, scim_key, groups, users, &mut steps).await;
            }
        }
    });
    futures_util::future::join_all(clients).await;
    check_effective_memberships(&app, &t, &groups, &users).await;
}

#[tokio::test]
async fn the_vendor_faces_show_direct_memberships_their_clients_write_back() {
    let app = TestApp::spawn().await;
    let tree = Tree::new(&app).await;
    // Anodot: a user's groups are those it was made a member of.
    let users = expect_json(app.get("/api/v2/users", &tree.t.admin).await, 200).await;
    let a = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["_id"] == tree.a.as_str())
        .expect("a is listed");
    assert_eq!(a["groups"], json!([tree.bottom]), "{a}");

    // Dynatrace: a user's groups, and a group's users, are the direct ones.
    let account = |rest: &str| format!("/iam/v1/accounts/{}{rest}", tree.t.id);
    let user = expect_json(
        app.get(&account("/users/a@acme.test"), &tree.t.admin).await,
        200,
    )
    .await;
    let groups: Vec<&str> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(groups, [tree.bottom.as_str()], "{user}");
    let top_users = expect_json(
        app.get(
            &account(&format!("/groups/{}/users", tree.top)),
            &tree.t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(top_users["count"], 0, "{top_users}");
    let middle_users = expect_json(
        app.get(
            &account(&format!("/groups/{}/users", tree.middle)),
            &tree.t.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(middle_users["count"], 1, "{middle_users}");

    // Replacing the user's groups with what Dynatrace showed changes nothing.
    let path = account("/users/a@acme.test/groups");
    let response = app
        .request(Method::PUT, &path, &tree.t.admin)
        .json(&json!([tree.bottom]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        tree.groups_of(&app, &tree.a, "direct").await,
        set([&tree.bottom])
    );
    assert_eq!(
        tree.groups_of(&app, &tree.a, "effective").await,
        set([&tree.top, &tree.middle, &tree.bottom])
    );
}
