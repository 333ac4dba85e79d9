use super::{Fixture, assert_error, basic};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn creates_a_key_whose_secret_is_shown_once() {
    let fx = Fixture::new().await;
    let response = fx
        .call(
            "POST",
            &fx.keys_path(),
            Some(json!({"displayName": "ci"})),
            Some(&fx.auth()),
        )
        .await;
    assert_response_snapshot!("sinch_create_access_key_200", response);
    let id = response.body["accessKey"]["accessKeyId"].as_str().unwrap();
    let secret = response.body["secret"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "ids are UUIDs");
    assert_eq!(secret.len(), 43, "32 random bytes, URL-safe base64");
    let read = fx
        .call("GET", &fx.key_path(id), None, Some(&fx.auth()))
        .await;
    assert!(
        !read.body.to_string().contains(secret),
        "the secret is never shown again"
    );
    // The new key works on its own.
    let listed = fx
        .call("GET", &fx.keys_path(), None, Some(&basic(id, secret)))
        .await;
    assert_eq!(listed.status, 200);
    fx.shutdown().await;
}

#[tokio::test]
async fn display_names_are_required_and_unique() {
    let fx = Fixture::new().await;
    for (body, named) in [
        (json!({}), "displayName"),
        (json!({"displayName": ""}), "displayName"),
        (json!({"displayName": "x".repeat(257)}), "256"),
    ] {
        let response = fx
            .call("POST", &fx.keys_path(), Some(body), Some(&fx.auth()))
            .await;
        assert_error(&response, 400, "INVALID_ARGUMENT");
        assert!(
            response.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(named)
        );
    }
    let malformed = fx
        .call(
            "POST",
            &fx.keys_path(),
            Some(json!({"displayName": 5})),
            Some(&fx.auth()),
        )
        .await;
    assert_response_snapshot!("sinch_create_access_key_400", malformed);
    fx.create("ci").await;
    let clash = fx
        .call(
            "POST",
            &fx.keys_path(),
            Some(json!({"displayName": "ci"})),
            Some(&fx.auth()),
        )
        .await;
    assert_error(&clash, 409, "ALREADY_EXISTS");
    assert_response_snapshot!("sinch_create_access_key_409", clash);
    // Names are unique per project only.
    let (other, other_auth) = fx.other_project().await;
    let elsewhere = fx
        .call(
            "POST",
            &format!("/v1/projects/{other}/accessKeys"),
            Some(json!({"displayName": "ci"})),
            Some(&other_auth),
        )
        .await;
    assert_eq!(elsewhere.status, 200);
    fx.shutdown().await;
}

#[tokio::test]
async fn a_project_has_at_most_ten_keys() {
    let fx = Fixture::new().await;
    // The bootstrap key is the first.
    for i in 1..10 {
        fx.create(&format!("key {i}")).await;
    }
    let eleventh = fx
        .call(
            "POST",
            &fx.keys_path(),
            Some(json!({"displayName": "key 10"})),
            Some(&fx.auth()),
        )
        .await;
    assert_error(&eleventh, 400, "FAILED_PRECONDITION");
    assert_eq!(
        eleventh.body["error"]["message"],
        json!("Limit of 10 Access Keys reached")
    );
    assert_response_snapshot!("sinch_create_access_key_400_limit", eleventh);
    fx.shutdown().await;
}

#[tokio::test]
async fn auth_errors() {
    let fx = Fixture::new().await;
    let body = Some(json!({"displayName": "ci"}));
    let missing = fx.call("POST", &fx.keys_path(), body.clone(), None).await;
    assert_error(&missing, 401, "UNAUTHENTICATED");
    assert_response_snapshot!("sinch_create_access_key_401", missing);
    let (other, _) = fx.other_project().await;
    let foreign = fx
        .call(
            "POST",
            &format!("/v1/projects/{other}/accessKeys"),
            body,
            Some(&fx.auth()),
        )
        .await;
    assert_error(&foreign, 403, "PERMISSION_DENIED");
    assert_response_snapshot!("sinch_create_access_key_403", foreign);
    fx.shutdown().await;
}
