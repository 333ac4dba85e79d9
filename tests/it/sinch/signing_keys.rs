//! Tokens that other services check offline: EdDSA with a `kid`, the JWKS
//! and metadata documents, rotation, and introspection (RFC 7662).

use super::{Fixture, basic};
use crate::common::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, Api, Request, TestServer};
use jsonwebtoken::jwk::JwkSet;
use keyward::domain::clock::Clock;
use keyward::domain::sinch::signing::KeySource;
use serde_json::{Value, json};
use std::time::Duration;

const LIFETIME_SECS: i64 = 3600;

async fn get_json(fx: &Fixture, path: &str) -> (reqwest::header::HeaderMap, Value) {
    let response = fx
        .server
        .http
        .get(format!("{}{path}", fx.server.base_url))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    (headers, response.json().await.expect("JSON"))
}

async fn jwks(fx: &Fixture) -> Vec<String> {
    let (_, body) = get_json(fx, "/.well-known/jwks.json").await;
    let set: JwkSet = serde_json::from_value(body).expect("a JWKS");
    set.keys
        .iter()
        .map(|k| k.common.key_id.clone().expect("kid"))
        .collect()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("a JWT")
        .kid
        .expect("a kid")
}

/// Whether the token opens the bootstrap project's key list.
async fn works(fx: &Fixture, token: &str) -> bool {
    let response = fx
        .call(
            "GET",
            &fx.keys_path(),
            None,
            Some(&format!("Bearer {token}")),
        )
        .await;
    response.status == 200
}

/// Waits for the server to take a rotation (through the change log).
async fn until_jwks(fx: &Fixture, expected: &[&str]) {
    for _ in 0..100 {
        if jwks(fx).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(jwks(fx).await, expected, "the JWKS after a rotation");
}

#[tokio::test]
async fn a_token_verifies_offline_with_only_the_jwks() {
    // The clock is real time: the JWT library checks exp against it.
    let now = Clock::now_ms(&keyward::domain::clock::SystemClock);
    let server = TestServer::start_at(now).await;
    let project_id = server.bootstrap().sinch.project_id.clone();
    let fx = Fixture { server, project_id };

    let (_, metadata) = get_json(&fx, "/.well-known/oauth-authorization-server").await;
    let issuer = metadata["issuer"].as_str().expect("issuer").to_string();
    assert_eq!(
        metadata["token_endpoint"],
        json!(format!("{issuer}/oauth2/token"))
    );
    assert_eq!(
        metadata["jwks_uri"],
        json!(format!("{issuer}/.well-known/jwks.json"))
    );
    assert_eq!(
        metadata["introspection_endpoint"],
        json!(format!("{issuer}/oauth2/introspect"))
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["client_credentials"])
    );
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );

    let (headers, keys) = get_json(&fx, "/.well-known/jwks.json").await;
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age"),
        "the JWKS may be cached"
    );
    let text = keys.to_string();
    assert!(!text.contains("\"d\""), "no private part is served: {text}");
    let set: JwkSet = serde_json::from_value(keys).expect("a JWKS (RFC 7517)");

    // From here on, keyward is not called: the JWKS and a JWT library do it.
    let token = fx.token().await;
    let header = jsonwebtoken::decode_header(&token).expect("a JWT");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwk = set
        .find(&header.kid.expect("kid"))
        .expect("the token's key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("an Ed25519 JWK");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[&issuer]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .expect("the signature, issuer and expiry check out")
        .claims;
    assert_eq!(claims["sub"], json!(ACCESS_KEY_ID));
    assert_eq!(claims["project_id"], json!(fx.project_id));

    let mut tampered = token.clone();
    tampered.insert(tampered.len() - 2, 'x');
    assert!(jsonwebtoken::decode::<Value>(&tampered, &key, &validation).is_err());
    fx.shutdown().await;
}

#[tokio::test]
async fn rotation_keeps_old_tokens_until_they_expire_then_drops_their_key() {
    let fx = Fixture::new().await;
    let clock = &fx.server.clock;
    let source = KeySource::Database(fx.server.storage());
    let t0 = clock.now_ms();

    let first = fx.token().await;
    let kid1 = kid_of(&first);
    assert_eq!(jwks(&fx).await, [kid1.as_str()]);

    let kid2 = source
        .rotate(clock.now_ms(), LIFETIME_SECS)
        .await
        .unwrap()
        .kid;
    until_jwks(&fx, &[&kid2, &kid1]).await;
    let second = fx.token().await;
    assert_eq!(kid_of(&second), kid2, "the new key signs");
    assert!(
        works(&fx, &first).await,
        "a retired key still checks its tokens"
    );
    assert!(works(&fx, &second).await);

    clock.advance_ms(1_000_000);
    let kid3 = source
        .rotate(clock.now_ms(), LIFETIME_SECS)
        .await
        .unwrap()
        .kid;
    until_jwks(&fx, &[&kid3, &kid2, &kid1]).await;
    let third = fx.token().await;
    assert_eq!(kid_of(&third), kid3);
    for token in [&first, &second, &third] {
        assert!(works(&fx, token).await, "every live token works");
    }

    // kid1 retired at t0: its last token expired at t0 + lifetime, and
    // after the allowed clock skew it goes.
    clock.advance_ms(t0 + (LIFETIME_SECS + 61) * 1000 - clock.now_ms());
    assert_eq!(
        jwks(&fx).await,
        [kid3.as_str(), kid2.as_str()],
        "kid1 is dropped"
    );
    assert!(!works(&fx, &first).await);
    assert!(works(&fx, &third).await);

    // kid2 retired at t0 + 1000 s.
    clock.advance_ms(1_000_000);
    assert_eq!(jwks(&fx).await, [kid3.as_str()], "kid2 is dropped");

    // The next rotation deletes what was dropped.
    let kid4 = source
        .rotate(clock.now_ms(), LIFETIME_SECS)
        .await
        .unwrap()
        .kid;
    let stored = source.load(clock.now_ms()).await.unwrap();
    let stored: Vec<&str> = stored.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(stored, [kid4.as_str(), kid3.as_str()]);
    fx.shutdown().await;
}

async fn introspect(fx: &Fixture, form: &str, auth: Option<&str>) -> crate::common::TestResponse {
    let mut request =
        Request::post("/oauth2/introspect").raw("application/x-www-form-urlencoded", form);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    fx.server.send(Api::OAuth, request).await
}

#[tokio::test]
async fn introspection_is_active_only_for_live_tokens_of_the_callers_project() {
    let fx = Fixture::new().await;
    let token = fx.token().await;
    let auth = fx.auth();

    let live = introspect(&fx, &format!("token={token}"), Some(&auth)).await;
    assert_eq!(live.status, 200, "{}", live.body);
    let body = &live.body;
    assert_eq!(body["active"], json!(true));
    assert_eq!(body["sub"], json!(ACCESS_KEY_ID));
    assert_eq!(body["client_id"], json!(ACCESS_KEY_ID));
    assert_eq!(body["project_id"], json!(fx.project_id));
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(
        body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(),
        LIFETIME_SECS
    );
    assert!(body["jti"].as_str().is_some_and(|j| !j.is_empty()));

    // The client may authenticate in the form too.
    let form = format!("token={token}&client_id={ACCESS_KEY_ID}&client_secret={ACCESS_KEY_SECRET}");
    assert_eq!(
        introspect(&fx, &form, None).await.body["active"],
        json!(true)
    );

    let inactive = |response: &crate::common::TestResponse| {
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(
            response.body,
            json!({"active": false}),
            "nothing else is told"
        );
    };
    inactive(&introspect(&fx, "token=not-a-token", Some(&auth)).await);

    let (_, other_auth) = fx.other_project().await;
    inactive(&introspect(&fx, &format!("token={token}"), Some(&other_auth)).await);

    // A token of a key that is deleted is no longer active.
    let (doomed_id, doomed_secret) = fx.create("doomed").await;
    let doomed_token = {
        let response = fx
            .token_request(
                "grant_type=client_credentials",
                Some(&basic(&doomed_id, &doomed_secret)),
            )
            .await;
        response.body["access_token"].as_str().unwrap().to_string()
    };
    assert_eq!(
        introspect(&fx, &format!("token={doomed_token}"), Some(&auth))
            .await
            .body["active"],
        json!(true)
    );
    let deleted = fx
        .call("DELETE", &fx.key_path(&doomed_id), None, Some(&auth))
        .await;
    assert_eq!(deleted.status, 200);
    inactive(&introspect(&fx, &format!("token={doomed_token}"), Some(&auth)).await);

    fx.server.clock.advance_ms((LIFETIME_SECS + 1) * 1000);
    inactive(&introspect(&fx, &format!("token={token}"), Some(&auth)).await);

    // The client itself must authenticate, and name a token.
    let anonymous = introspect(&fx, &format!("token={token}"), None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["error"], json!("invalid_client"));
    let wrong = introspect(&fx, "token=x", Some(&basic(ACCESS_KEY_ID, "wrong"))).await;
    assert_eq!(wrong.status, 401);
    let no_token = introspect(&fx, "", Some(&auth)).await;
    assert_eq!(no_token.status, 400);
    assert_eq!(no_token.body["error"], json!("invalid_request"));
    fx.shutdown().await;
}
