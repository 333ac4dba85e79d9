use super::{Fixture, assert_error};
use crate::assert_response_snapshot;
use serde_json::json;

#[tokio::test]
async fn pages_by_cursor_in_id_order() {
    let fx = Fixture::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let owner = if i % 2 == 0 { "even" } else { "odd" };
        ids.push(
            fx.create_key(json!({"ownerId": owner, "name": format!("key {i}")}))
                .await
                .0,
        );
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/apis.listKeys?apiId={}&limit=2&cursor={c}", fx.api_id),
            None => format!("/v1/apis.listKeys?apiId={}&limit=2", fx.api_id),
        };
        let page = fx.get(&path).await;
        assert_eq!(page.body["total"], json!(5));
        seen.extend(
            page.body["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_string()),
        );
        pages += 1;
        match page.body["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(
        (seen, pages),
        (ids, 3),
        "every key once, in id order; no cursor on the last page"
    );

    let odd = fx
        .get(&format!(
            "/v1/apis.listKeys?apiId={}&ownerId=odd",
            fx.api_id
        ))
        .await;
    assert_eq!(odd.body["keys"].as_array().map(Vec::len), Some(2));
    // Ids are random, so the snapshot lists by an owner that has one key.
    fx.create_key(json!({"ownerId": "solo", "name": "only key"}))
        .await;
    let solo = fx
        .get(&format!(
            "/v1/apis.listKeys?apiId={}&ownerId=solo&limit=1",
            fx.api_id
        ))
        .await;
    assert_response_snapshot!("unkey_apis_list_keys_200", solo);
    fx.shutdown().await;
}

#[tokio::test]
async fn errors() {
    let fx = Fixture::new().await;
    let too_many = fx
        .get(&format!("/v1/apis.listKeys?apiId={}&limit=101", fx.api_id))
        .await;
    assert_error(&too_many, 400, "limit");
    assert_response_snapshot!("unkey_apis_list_keys_400", too_many);
    assert_error(
        &fx.get(&format!("/v1/apis.listKeys?apiId={}&limit=0", fx.api_id))
            .await,
        400,
        "limit",
    );
    let path = format!("/v1/apis.listKeys?apiId={}", fx.api_id);
    assert_response_snapshot!("unkey_apis_list_keys_401", fx.call(&path, None, None).await);
    let keys_only = fx.root_key(&["api.*.read_key"]).await;
    let forbidden = fx.call(&path, None, Some(&keys_only)).await;
    assert_error(&forbidden, 403, "read_api");
    assert_response_snapshot!("unkey_apis_list_keys_403", forbidden);
    let both = fx
        .root_key(&["api.*.read_key", &format!("api.{}.read_api", fx.api_id)])
        .await;
    assert_eq!(fx.call(&path, None, Some(&both)).await.status, 200);
    let other = fx.other_workspace_root_key().await;
    assert_response_snapshot!(
        "unkey_apis_list_keys_404",
        fx.call(&path, None, Some(&other)).await
    );
    fx.shutdown().await;
}
