use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{TestApp, create_users, expect_json};

#[tokio::test]
async fn paging_over_a_thousand_users_misses_and_repeats_none_while_users_are_added() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let existing: HashSet<String> = create_users(&app, &t, "before", 1050)
        .await
        .into_iter()
        .collect();
    assert_eq!(existing.len(), 1050);

    let reader = async {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/tenants/{}/users?limit=37&cursor={c}", t.id),
                None => format!("/v1/tenants/{}/users?limit=37", t.id),
            };
            let page = expect_json(app.get(&path, &t.admin).await, 200).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 37);
            seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
            pages += 1;
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return (seen, pages),
            }
        }
    };
    let writer = create_users(&app, &t, "during", 150);
    let ((seen, pages), added) = tokio::join!(reader, writer);

    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user is listed twice");
    for id in &existing {
        assert!(
            unique.contains(id),
            "{id} existed before paging began and was missed"
        );
    }
    for id in &seen {
        assert!(
            existing.contains(id) || added.contains(id),
            "{id} is not a user of the tenant"
        );
    }
    assert!(pages >= 1050 / 37, "{pages} pages");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "pages run in id order");
    assert_eq!(app.all_users(&t).await.len(), 1200);
}

#[tokio::test]
async fn the_last_page_has_a_null_cursor() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    create_users(&app, &t, "u", 4).await;
    let path = format!("/v1/tenants/{}/users?limit=2", t.id);
    let first = expect_json(app.get(&path, &t.admin).await, 200).await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = expect_json(
        app.get(&format!("{path}&cursor={cursor}"), &t.admin).await,
        200,
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(
        second["nextCursor"].is_null(),
        "exactly full last page: {second}"
    );
    let default = expect_json(
        app.get(&format!("/v1/tenants/{}/users", t.id), &t.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(default["items"].as_array().unwrap().len(), 4);
    assert!(default["nextCursor"].is_null());
}

/// The ids of a page of any face's list, read from the field that face names them by.
fn page_ids(items: &Value, field: &str) -> Vec<String> {
    (items.as_array().unwrap().iter())
        .map(|u| u[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn numbered_pages_and_totals_of_every_face_follow_users_coming_and_going() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    create_users(&app, &other, "other", 7).await;
    let created = create_users(&app, &t, "u", 45).await;
    for id in [&created[3], &created[20], &created[44]] {
        let path = format!("/v1/tenants/{}/users/{id}", t.id);
        assert_eq!(app.delete(&path, &t.admin).await.status(), 204);
    }
    create_users(&app, &t, "late", 2).await;
    let ids: Vec<String> = (app.all_users(&t).await.iter())
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 44);
    let window = |from: usize, count: usize| ids[from.min(44)..(from + count).min(44)].to_vec();

    // In order, then jumping back and forth, and past the end: each read twice, so
    // that a start remembered from the first read serves the second.
    for start in [1, 11, 21, 31, 41, 7, 35, 2, 44, 45, 90, 1] {
        for _ in 0..2 {
            let path = format!("/scim/v2/Users?startIndex={start}&count=10");
            let page = expect_json(app.get(&path, &t.admin).await, 200).await;
            assert_eq!(page["totalResults"], 44, "{path}");
            let found = page.get("Resources").map(|r| page_ids(r, "id"));
            assert_eq!(found.unwrap_or_default(), window(start - 1, 10), "{path}");
        }
    }
    let total = expect_json(app.get("/scim/v2/Users?count=0", &t.admin).await, 200).await;
    assert_eq!(total["totalResults"], 44);
    let theirs = expect_json(app.get("/scim/v2/Users?count=0", &other.admin).await, 200).await;
    assert_eq!(
        theirs["totalResults"], 7,
        "another tenant's count is its own"
    );

    for p in [1, 2, 5, 3, 6] {
        let response = app
            .client
            .get(app.url(&format!("/api/users?p={p}")))
            .header("authorization", &t.admin)
            .send()
            .await
            .unwrap();
        let page = expect_json(response, 200).await;
        assert_eq!(page["pages"], 5, "Tyk p={p}");
        assert_eq!(
            page_ids(&page["users"], "id"),
            window((p - 1) * 10, 10),
            "Tyk p={p}"
        );
    }
    for number in [1, 3, 2, 5, 9] {
        let path = format!(
            "/iam/v1/accounts/{}/users/groups?pageNumber={number}&pageSize=10",
            t.id
        );
        let page = expect_json(app.get(&path, &t.admin).await, 200).await;
        assert_eq!(
            page_ids(&page, "uid"),
            window((number - 1) * 10, 10),
            "{path}"
        );
    }
}
