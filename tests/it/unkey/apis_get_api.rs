use super::{Fixture, assert_error};
use crate::assert_response_snapshot;

#[tokio::test]
async fn reads_an_api() {
    let fx = Fixture::new().await;
    let response = fx
        .get(&format!("/v1/apis.getApi?apiId={}", fx.api_id))
        .await;
    assert_response_snapshot!("unkey_apis_get_api_200", response);
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let path = format!("/v1/apis.getApi?apiId={}", fx.api_id);
    assert_response_snapshot!("unkey_apis_get_api_400", fx.get("/v1/apis.getApi").await);
    assert_response_snapshot!(
        "unkey_apis_get_api_401",
        fx.call(&path, None, Some("unkey_wrong")).await
    );
    let scoped = fx.root_key(&["api.api_other.read_api"]).await;
    let forbidden = fx.call(&path, None, Some(&scoped)).await;
    assert_error(&forbidden, 403, &format!("api.{}.read_api", fx.api_id));
    assert_response_snapshot!("unkey_apis_get_api_403", forbidden);
    let other = fx.other_workspace_root_key().await;
    let hidden = fx.call(&path, None, Some(&other)).await;
    assert_response_snapshot!("unkey_apis_get_api_404", hidden);
    assert_error(
        &fx.get("/v1/apis.getApi?apiId=api_missing").await,
        404,
        "api_missing",
    );
    fx.shutdown().await;
}
