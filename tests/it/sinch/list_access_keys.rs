use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use crate::common::ACCESS_KEY_ID;

#[tokio::test]
async fn pages_through_keys_in_creation_order() {
    let fx = Fixture::new().await;
    let mut expected = vec![ACCESS_KEY_ID.to_string()];
    for i in 0..4 {
        fx.server.clock.advance_ms(1000);
        expected.push(fx.create(&format!("key {i}")).await.0);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let path = format!("{}?pageSize=2&pageToken={token}", fx.keys_path());
        let page = fx.call("GET", &path, None, Some(&fx.auth())).await;
        assert_eq!(page.status, 200);
        seen.extend(
            page.body["accessKeys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["accessKeyId"].as_str().unwrap().to_string()),
        );
        pages += 1;
        token = page.body["nextPageToken"]
            .as_str()
            .expect("nextPageToken is always present")
            .to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(
        (seen, pages),
        (expected, 3),
        "every key once, by creation time; \"\" on the last page"
    );

    let all = fx
        .call(
            "GET",
            &format!("{}?pageSize=0", fx.keys_path()),
            None,
            Some(&fx.auth()),
        )
        .await;
    assert_eq!(
        all.body["accessKeys"].as_array().map(Vec::len),
        Some(5),
        "0 means the default of 100"
    );
    fx.shutdown().await;
}

#[tokio::test]
async fn lists_the_bootstrap_key() {
    let fx = Fixture::new().await;
    let response = fx
        .call("GET", &fx.keys_path(), None, Some(&fx.auth()))
        .await;
    assert_response_snapshot!("sinch_list_access_keys_200", response);
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    for page_size in ["1001", "-1"] {
        let response = fx
            .call(
                "GET",
                &format!("{}?pageSize={page_size}", fx.keys_path()),
                None,
                Some(&fx.auth()),
            )
            .await;
        assert_error(&response, 400, "INVALID_ARGUMENT");
    }
    let bad_token = fx
        .call(
            "GET",
            &format!("{}?pageToken=%21%21", fx.keys_path()),
            None,
            Some(&fx.auth()),
        )
        .await;
    assert_error(&bad_token, 400, "INVALID_ARGUMENT");
    let unauthenticated = fx
        .call("GET", &fx.keys_path(), None, Some("Basic bm9wZTpub3Bl"))
        .await;
    assert_response_snapshot!("sinch_list_access_keys_401", unauthenticated);
    let (other, _) = fx.other_project().await;
    let foreign = fx
        .call(
            "GET",
            &format!("/v1/projects/{other}/accessKeys"),
            None,
            Some(&fx.auth()),
        )
        .await;
    assert_response_snapshot!("sinch_list_access_keys_403", foreign);
    let missing_project = fx
        .call(
            "GET",
            "/v1/projects/no-such-project/accessKeys",
            None,
            Some(&fx.auth()),
        )
        .await;
    assert_error(&missing_project, 403, "PERMISSION_DENIED");
    fx.shutdown().await;
}
