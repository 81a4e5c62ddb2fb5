use serde_json::json;

use crate::helpers::{TestApp, expect_json};

#[tokio::test]
async fn twenty_concurrent_creates_of_one_email_make_one_user() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let path = format!("/v1/tenants/{}/users", t.id);
    let attempts = (0..20).map(|i| {
        // The same address in varying letter case.
        let email = if i % 2 == 0 {
            "Race@Acme.com"
        } else {
            "race@acme.COM"
        };
        let body = json!({"email": email, "firstName": format!("n{i}"), "lastName": "x"});
        let (app, path, admin) = (&app, path.clone(), t.admin.clone());
        async move { app.post(&path, &admin, &body).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let listed = expect_json(
        app.get(&format!("{path}?email=race@acme.com"), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn creates_written_together_keep_all_but_the_refused_ones_in_each_tenant() {
    let app = TestApp::spawn().await;
    let tenants = [app.tenant().await, app.tenant().await];
    // Each tenant already holds taken0..taken4.
    for t in &tenants {
        for n in 0..5 {
            app.user(t, &format!("taken{n}@acme.com")).await;
        }
    }
    // 60 creates at once across the two tenants: a third of them of taken
    // addresses, and the same fresh address in both tenants (which is no clash).
    let attempts = (0..60).map(|i| {
        let t = &tenants[i % 2];
        let email = if i % 3 == 0 {
            format!("taken{}@acme.com", i % 5)
        } else {
            format!("fresh{}@acme.com", i / 2)
        };
        let body = json!({"email": email, "firstName": format!("n{i}"), "lastName": "x"});
        let (app, path, admin) = (&app, format!("/v1/tenants/{}/users", t.id), t.admin.clone());
        async move { (i, app.post(&path, &admin, &body).await) }
    });
    let mut created = [Vec::new(), Vec::new()];
    for (i, response) in futures_util::future::join_all(attempts).await {
        if i % 3 == 0 {
            let problem = expect_json(response, 409).await;
            assert_eq!(problem["errors"][0]["field"], "email", "{problem}");
        } else {
            let user = expect_json(response, 201).await;
            created[i % 2].push(user["id"].as_str().unwrap().to_owned());
        }
    }
    for (t, created) in tenants.iter().zip(&created) {
        assert_eq!(created.len(), 20);
        let listed = app.all_users(t).await;
        let listed: Vec<&str> = listed.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(listed.len(), 25, "the 5 taken and the 20 created, no more");
        assert!(created.iter().all(|id| listed.contains(&id.as_str())));
        let scim = expect_json(app.get("/scim/v2/Users?count=0", &t.admin).await, 200).await;
        assert_eq!(scim["totalResults"], 25);
        let events = expect_json(
            app.get(
                &format!(
                    "/v1/tenants/{}/audit-events?action=user.create&limit=1000",
                    t.id
                ),
                &t.admin,
            )
            .await,
            200,
        )
        .await;
        let audited: Vec<&str> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["target"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            audited.len(),
            25,
            "one event per user created, none for a refusal"
        );
        assert!(created.iter().all(|id| audited.contains(&id.as_str())));
    }
}

#[tokio::test]
async fn concurrent_changes_to_one_user_all_apply() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = app.user(&t, "a@acme.com").await;
    let path = format!(
        "/v1/tenants/{}/users/{}",
        t.id,
        user["id"].as_str().unwrap()
    );
    let changes = (0..10).map(|i| {
        let (app, path, admin) = (&app, path.clone(), t.admin.clone());
        async move {
            app.patch(&path, &admin, &json!({"firstName": format!("n{i}")}))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(changes).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let read = app.get(&path, &t.admin).await;
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let version: i64 = etag.trim_matches('"').parse().unwrap();
    assert!(version > 1 && version <= 11, "{etag}");
}

/// One burst: 20 adds of one user to one group, spread over the native PUT, a SCIM
/// PATCH and Dynatrace's POST, all at once.
async fn mixed_adds_of_one_member(app: &TestApp, t: &crate::helpers::TestTenant, round: usize) {
    let user = app.user(t, &format!("member{round}@acme.com")).await;
    let group = app.group(t, &format!("group{round}")).await;
    let (user_id, group_id) = (
        user["id"].as_str().unwrap().to_owned(),
        group["id"].as_str().unwrap().to_owned(),
    );
    let native = format!("/v1/tenants/{}/groups/{group_id}/members/{user_id}", t.id);
    let scim = format!("/scim/v2/Groups/{group_id}");
    let dynatrace = format!(
        "/iam/v1/accounts/{}/users/member{round}@acme.com/groups",
        t.id
    );
    let attempts = (0..20).map(|i| {
        let (native, scim, dynatrace) = (native.clone(), scim.clone(), dynatrace.clone());
        let (user_id, group_id, admin) = (user_id.clone(), group_id.clone(), t.admin.clone());
        async move {
            let response = match i % 3 {
                0 => app.put(&native, &admin).await,
                1 => {
                    app.patch(
                        &scim,
                        &admin,
                        &json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]
                        }),
                    )
                    .await
                }
                _ => app.post(&dynatrace, &admin, &json!([group_id])).await,
            };
            let status = response.status().as_u16();
            (i % 3, status, response.text().await.unwrap_or_default())
        }
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    let failed: Vec<_> = outcomes.iter().filter(|(_, s, _)| *s >= 300).collect();
    assert!(failed.is_empty(), "round {round}: {failed:?}");
    let members = expect_json(
        app.get(
            &format!("/v1/tenants/{}/groups/{group_id}/members", t.id),
            &t.admin,
        )
        .await,
        200,
    )
    .await;
    let ids: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![user_id.as_str()], "round {round}");
}

#[tokio::test]
async fn twenty_concurrent_adds_of_one_member_across_faces_make_one_membership() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for round in 0..4 {
        mixed_adds_of_one_member(&app, &t, round).await;
    }
}

#[tokio::test]
async fn concurrent_membership_changes_of_two_groups_across_faces_never_fail() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let user = app.user(&t, "both@acme.com").await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let groups: Vec<String> = [app.group(&t, "g1").await, app.group(&t, "g2").await]
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    let user_path = format!("/v1/tenants/{}/users/{user_id}", t.id);
    let dynatrace = format!("/iam/v1/accounts/{}/users/both@acme.com/groups", t.id);
    for round in 0..3 {
        let attempts = (0..20).map(|i| {
            let group = groups[i % 2].clone();
            let (user_id, admin) = (user_id.clone(), t.admin.clone());
            let (user_path, dynatrace, groups) = (user_path.clone(), dynatrace.clone(), groups.clone());
            let (app, tenant) = (&app, t.id.clone());
            async move {
                let response = match i % 4 {
                    0 => {
                        app.put(
                            &format!("/v1/tenants/{tenant}/groups/{group}/members/{user_id}"),
                            &admin,
                        )
                        .await
                    }
                    1 => {
                        app.patch(
                            &format!("/scim/v2/Groups/{group}"),
                            &admin,
                            &json!({
                                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]
                            }),
                        )
                        .await
                    }
                    // Named in reverse id order on purpose.
                    2 => app.post(&dynatrace, &admin, &json!([groups[1], groups[0]])).await,
                    _ => app.patch(&user_path, &admin, &json!({"defaultGroupId": group})).await,
                };
                let status = response.status().as_u16();
                (i % 4, status, response.text().await.unwrap_or_default())
            }
        });
        let outcomes = futures_util::future::join_all(attempts).await;
        let failed: Vec<_> = outcomes.iter().filter(|(_, s, _)| *s >= 300).collect();
        assert!(failed.is_empty(), "round {round}: {failed:?}");
    }
    for group in &groups {
        let members = expect_json(
            app.get(
                &format!("/v1/tenants/{}/groups/{group}/members", t.id),
                &t.admin,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(members["items"].as_array().unwrap().len(), 1, "{members}");
    }
}
