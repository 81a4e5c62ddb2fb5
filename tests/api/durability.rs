use reqwest::Client;
use serde_json::json;

use crate::helpers::{ServerProcess, TestDatabase, expect_json};

const TOKEN: &str = "durability-operator-token-0123456789";

#[tokio::test]
async fn acknowledged_writes_survive_a_sigkill() {
    let database = TestDatabase::create().await;
    let client = Client::new();
    let mut server = ServerProcess::start(&database.url(), &[("ROSTER_BOOTSTRAP_TOKEN", TOKEN)]);

    let tenant = expect_json(
        client
            .post(server.url("/v1/tenants"))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "Durable"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let tid = tenant["id"].as_str().unwrap().to_owned();
    let group = expect_json(
        client
            .post(server.url(&format!("/v1/tenants/{tid}/groups")))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "G"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let gid = group["id"].as_str().unwrap().to_owned();
    let mut acknowledged = Vec::new();
    for i in 0..50 {
        let body = json!({"email": format!("u{i}@durable.example"), "firstName": "D", "lastName": format!("{i}")});
        let user = expect_json(
            client
                .post(server.url(&format!("/v1/tenants/{tid}/users")))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap(),
            201,
        )
        .await;
        let uid = user["id"].as_str().unwrap().to_owned();
        if i % 5 == 0 {
            let put = client
                .put(server.url(&format!("/v1/tenants/{tid}/groups/{gid}/members/{uid}")))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(put.status(), 204);
        }
        acknowledged.push(user);
    }
    let renamed = client
        .patch(server.url(&format!(
            "/v1/tenants/{tid}/users/{}",
            acknowledged[0]["id"].as_str().unwrap()
        )))
        .bearer_auth(TOKEN)
        .json(&json!({"firstName": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);

    server.kill();
    let server = ServerProcess::start(&database.url(), &[("ROSTER_BOOTSTRAP_TOKEN", TOKEN)]);

    for (i, user) in acknowledged.iter().enumerate() {
        let read = expect_json(
            client
                .get(server.url(&format!(
                    "/v1/tenants/{tid}/users/{}",
                    user["id"].as_str().unwrap()
                )))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(read["email"], user["email"]);
        if i == 0 {
            assert_eq!(read["firstName"], "Renamed");
        }
    }
    let members = expect_json(
        client
            .get(server.url(&format!("/v1/tenants/{tid}/groups/{gid}/members")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(members["items"].as_array().unwrap().len(), 10);
}
