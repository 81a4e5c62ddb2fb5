use std::collections::HashSet;

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
