use super::{Fixture, assert_error, basic, bearer};
use crate::assert_response_snapshot;
use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET};

#[tokio::test]
async fn deletes_a_key_and_revokes_its_tokens_at_once() {
    let fx = Fixture::new().await;
    let (id, secret) = fx.create("ci").await;
    let token_response = fx
        .token_request("grant_type=client_credentials", Some(&basic(&id, &secret)))
        .await;
    let token = token_response.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        fx.call("GET", &fx.keys_path(), None, Some(&bearer(&token)))
            .await
            .status,
        200
    );

    let response = fx
        .call("DELETE", &fx.key_path(&id), None, Some(&fx.auth()))
        .await;
    assert_response_snapshot!("sinch_delete_access_key_200", response);
    let revoked = fx
        .call("GET", &fx.keys_path(), None, Some(&bearer(&token)))
        .await;
    assert_error(&revoked, 401, "UNAUTHENTICATED");
    assert_eq!(
        fx.call("GET", &fx.keys_path(), None, Some(&basic(&id, &secret)))
            .await
            .status,
        401
    );
    assert_eq!(
        fx.call("GET", &fx.key_path(&id), None, Some(&fx.auth()))
            .await
            .status,
        404
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn a_key_may_delete_itself() {
    let fx = Fixture::new().await;
    let own = basic(ACCESS_KEY_ID, ACCESS_KEY_SECRET);
    assert_eq!(
        fx.call("DELETE", &fx.key_path(ACCESS_KEY_ID), None, Some(&own))
            .await
            .status,
        200
    );
    assert_eq!(
        fx.call("GET", &fx.keys_path(), None, Some(&own))
            .await
            .status,
        401
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let (id, _) = fx.create("ci").await;
    assert_response_snapshot!(
        "sinch_delete_access_key_401",
        fx.call("DELETE", &fx.key_path(&id), None, None).await
    );
    let (_, other_auth) = fx.other_project().await;
    assert_response_snapshot!(
        "sinch_delete_access_key_403",
        fx.call("DELETE", &fx.key_path(&id), None, Some(&other_auth))
            .await
    );
    let unknown = fx
        .call("DELETE", &fx.key_path("nope"), None, Some(&fx.auth()))
        .await;
    assert_response_snapshot!("sinch_delete_access_key_404", unknown);
    assert_eq!(
        fx.call("GET", &fx.key_path(&id), None, Some(&fx.auth()))
            .await
            .status,
        200,
        "still there"
    );
    fx.shutdown().await;
}
