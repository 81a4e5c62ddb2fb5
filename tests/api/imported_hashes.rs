//! Password hashes made by other implementations (tests/fixtures/hashes: argon2-cffi,
//! bcrypt, passlib, hashlib) sign their users in over /v1, and the first sign-in
//! re-hashes them to Argon2id under the current parameters.

use roster::domain::{ImportedHash, KeycloakCredential, TenantId};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_json, expect_problem};
use crate::sign_in::login;

/// A fixture: its kind, its password and the hash given as `passwordHash`.
struct Fixture {
    kind: String,
    password: String,
    hash: String,
}

/// The fixtures given as another system stores them (`hash`), or Keycloak's
/// credentials turned into the PHC strings Roster holds (`keycloak`).
fn fixtures(form: &str) -> Vec<Fixture> {
    let text = include_str!("../fixtures/hashes/hashes.json");
    let all: Vec<Value> = serde_json::from_str(text).unwrap();
    all.iter()
        .filter_map(|fixture| {
            let given = fixture.get(form)?;
            let hash = match form {
                "keycloak" => ImportedHash::from_keycloak(&KeycloakCredential {
                    algorithm: given["algorithm"].as_str()?.to_owned(),
                    iterations: u32::try_from(given["iterations"].as_u64()?).ok()?,
                    salt: given["salt"].as_str()?.to_owned(),
                    value: given["value"].as_str()?.to_owned(),
                    additional_parameters: serde_json::from_value(
                        given["additionalParameters"].clone(),
                    )
                    .ok()?,
                })
                .unwrap()
                .as_str()
                .to_owned(),
                _ => given.as_str()?.to_owned(),
            };
            Some(Fixture {
                kind: fixture["kind"].as_str()?.to_owned(),
                password: fixture["password"].as_str()?.to_owned(),
                hash,
            })
        })
        .collect()
}

/// Creates a user with each fixture's hash; a wrong password is refused, the right
/// one signs in and leaves an Argon2id hash of the current parameters behind, which
/// signs in again.
async fn each_signs_in_and_is_rehashed(fixtures: &[Fixture]) {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let tenant = TenantId::parse(&t.id).unwrap();
    let store = app.store().await;
    for Fixture {
        kind,
        password,
        hash,
    } in fixtures
    {
        let email = format!("{kind}@acme.com");
        let body = json!({"email": email, "firstName": "I", "lastName": "H", "passwordHash": hash});
        let user = expect_json(
            app.post(&format!("/v1/tenants/{}/users", t.id), &t.admin, &body)
                .await,
            201,
        )
        .await;
        assert!(!user.to_string().contains(hash.as_str()), "{kind}");
        let (_, stored) = store.find_sign_in(tenant, &email).await.unwrap().unwrap();
        assert_eq!(
            stored.as_deref(),
            Some(ImportedHash::parse(hash.as_str()).unwrap().as_str()),
            "{kind}: held as it was given (passlib's PBKDF2 in PHC form)"
        );

        let wrong = format!("{password}!");
        expect_problem(login(&app, &t.id, &email, &wrong).await, 401).await;
        expect_json(login(&app, &t.id, &email, password).await, 200).await;
        let (_, stored) = store.find_sign_in(tenant, &email).await.unwrap().unwrap();
        let stored = stored.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{kind}: re-hashed under the current parameters"
        );
        assert_ne!(&stored, hash, "{kind}");
        expect_json(login(&app, &t.id, &email, password).await, 200).await;
        expect_problem(login(&app, &t.id, &email, &wrong).await, 401).await;
    }
}

#[tokio::test]
async fn argon2_bcrypt_and_pbkdf2_hashes_from_other_systems_sign_in_and_are_rehashed() {
    let fixtures = fixtures("hash");
    assert!(fixtures.len() >= 15);
    each_signs_in_and_is_rehashed(&fixtures).await;
}

#[tokio::test]
async fn keycloak_credentials_sign_in_and_are_rehashed() {
    let fixtures = fixtures("keycloak");
    assert!(fixtures.len() >= 6);
    each_signs_in_and_is_rehashed(&fixtures).await;
}
