//! `POST /oauth2/token` and the bearer tokens it issues.

use super::{Fixture, assert_error, basic, bearer};
use crate::assert_response_snapshot;
use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, Api, Request};
use base64::Engine;
use serde_json::{Value, json};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

#[tokio::test]
async fn issues_a_jwt_for_basic_or_form_credentials() {
    let fx = Fixture::new().await;
    let response = fx
        .token_request("grant_type=client_credentials", Some(&fx.auth()))
        .await;
    assert_response_snapshot!("oauth2_token_200", response);
    let token = response.body["access_token"].as_str().unwrap();
    let claims = claims_of(token);
    let now = fx.server.clock_secs();
    assert_eq!(claims["sub"], json!(ACCESS_KEY_ID));
    assert_eq!(claims["project_id"], json!(fx.project_id));
    assert_eq!(
        (claims["iat"].clone(), claims["exp"].clone()),
        (json!(now), json!(now + 3600))
    );
    assert!(claims["jti"].is_string());
    assert_eq!(response.body["expires_in"], json!(3600));

    let secret = ACCESS_KEY_SECRET.replace(':', "%3A");
    let form = fx
        .token_request(
            &format!(
                "grant_type=client_credentials&client_id={ACCESS_KEY_ID}&client_secret={secret}"
            ),
            None,
        )
        .await;
    assert_eq!(form.status, 200, "client_id and client_secret in the form");
    // Claims are precise to the second: within one, a key gets the token it
    // got already, and a token of its own in the next.
    assert_eq!(form.body["access_token"], response.body["access_token"]);
    fx.server.clock.advance_ms(1000);
    let later = fx
        .token_request("grant_type=client_credentials", Some(&fx.auth()))
        .await;
    let other = claims_of(later.body["access_token"].as_str().unwrap());
    assert_ne!(
        other["jti"], claims["jti"],
        "every second's token is its own"
    );
    assert_eq!(other["iat"], json!(now + 1));
    fx.shutdown().await;
}

#[tokio::test]
async fn a_token_works_until_it_expires_and_says_so() {
    let fx = Fixture::new().await;
    let token = fx.token().await;
    assert_eq!(
        fx.call("GET", &fx.keys_path(), None, Some(&bearer(&token)))
            .await
            .status,
        200
    );
    fx.server.clock.advance_ms(3_599_000);
    assert_eq!(
        fx.call("GET", &fx.keys_path(), None, Some(&bearer(&token)))
            .await
            .status,
        200
    );
    fx.server.clock.advance_ms(1_000);
    let expired = fx
        .call("GET", &fx.keys_path(), None, Some(&bearer(&token)))
        .await;
    assert_error(&expired, 401, "UNAUTHENTICATED");
    assert_eq!(
        expired.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\", error_description=\"token expired\""),
        "the SDKs refresh on a challenge that says expired"
    );
    assert_response_snapshot!("sinch_list_access_keys_401_expired_token", expired);
    fx.shutdown().await;
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused() {
    let fx = Fixture::new().await;
    let token = fx.token().await;
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut forged = claims_of(&token);
    forged["project_id"] = json!("another-project");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
    let tampered = fx
        .call(
            "GET",
            &fx.keys_path(),
            None,
            Some(&bearer(&parts.join("."))),
        )
        .await;
    assert_error(&tampered, 401, "UNAUTHENTICATED");
    assert!(
        !tampered
            .header("www-authenticate")
            .unwrap()
            .contains("expired"),
        "not expired: no refresh loop"
    );

    let (other, _) = fx.other_project().await;
    let foreign = fx
        .call(
            "GET",
            &format!("/v1/projects/{other}/accessKeys"),
            None,
            Some(&bearer(&token)),
        )
        .await;
    assert_error(&foreign, 403, "PERMISSION_DENIED");
    fx.shutdown().await;
}

#[tokio::test]
async fn errors_follow_rfc_6749() {
    let fx = Fixture::new().await;
    let wrong = fx
        .token_request(
            "grant_type=client_credentials",
            Some(&basic(ACCESS_KEY_ID, "wrong")),
        )
        .await;
    assert_eq!(wrong.body["error"], json!("invalid_client"));
    assert_response_snapshot!("oauth2_token_401_invalid_client", wrong);
    let anonymous = fx
        .token_request("grant_type=client_credentials", None)
        .await;
    assert_eq!(anonymous.body["error"], json!("invalid_client"));

    let grant = fx
        .token_request("grant_type=password", Some(&fx.auth()))
        .await;
    assert_eq!(grant.body["error"], json!("unsupported_grant_type"));
    assert_response_snapshot!("oauth2_token_400_unsupported_grant_type", grant);
    let missing = fx.token_request("", Some(&fx.auth())).await;
    assert_eq!(missing.body["error"], json!("invalid_request"));
    assert_response_snapshot!("oauth2_token_400_invalid_request", missing);

    let json_body = Request::post("/oauth2/token")
        .json(&json!({"grant_type": "client_credentials"}))
        .header("authorization", fx.auth());
    let wrong_type = fx.server.send(Api::OAuth, json_body).await;
    assert_eq!(
        (wrong_type.status, wrong_type.body["error"].clone()),
        (400, json!("invalid_request"))
    );
    let both = fx
        .token_request(
            &format!("grant_type=client_credentials&client_id={ACCESS_KEY_ID}&client_secret=x"),
            Some(&fx.auth()),
        )
        .await;
    assert_eq!(
        both.body["error"],
        json!("invalid_request"),
        "one client authentication method"
    );
    let get = fx
        .server
        .send(Api::OAuth, Request::get("/oauth2/token"))
        .await;
    assert_eq!(get.status, 405);
    fx.shutdown().await;
}
