use super::{Fixture, assert_error};
use crate::assert_response_snapshot;

#[tokio::test]
async fn reads_a_key() {
    let fx = Fixture::new().await;
    let (id, _) = fx.create("ci").await;
    let response = fx
        .call("GET", &fx.key_path(&id), None, Some(&fx.auth()))
        .await;
    assert_response_snapshot!("sinch_get_access_key_200", response);
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let (id, _) = fx.create("ci").await;
    assert_response_snapshot!(
        "sinch_get_access_key_401",
        fx.call("GET", &fx.key_path(&id), None, None).await
    );
    let (other, other_auth) = fx.other_project().await;
    let foreign = fx
        .call("GET", &fx.key_path(&id), None, Some(&other_auth))
        .await;
    assert_response_snapshot!("sinch_get_access_key_403", foreign);
    let unknown = fx
        .call(
            "GET",
            &fx.key_path("00000000-0000-4000-8000-00000000dead"),
            None,
            Some(&fx.auth()),
        )
        .await;
    assert_error(&unknown, 404, "NOT_FOUND");
    assert_response_snapshot!("sinch_get_access_key_404", unknown);
    // Another project's key, asked for on that project's path with our credentials: 403, not a leak.
    let elsewhere = fx
        .call(
            "GET",
            &format!("/v1/projects/{other}/accessKeys/{id}"),
            None,
            Some(&fx.auth()),
        )
        .await;
    assert_error(&elsewhere, 403, "PERMISSION_DENIED");
    fx.shutdown().await;
}
