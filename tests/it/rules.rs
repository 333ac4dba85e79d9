//! Every rule the specs state about a request is enforced (src/api/rules.rs):
//! the keywords of every request schema are classified, and each one that
//! can reject a value does so with a 400, on each API that uses it.

use crate::unkey::{Fixture as UnkeyFixture, assert_error};
use keyward::api::rules::{Document, REQUEST_KEYWORDS, Rules};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Follows a local `$ref`, once or several times.
fn resolve<'a>(spec: &'a Value, mut schema: &'a Value) -> &'a Value {
    while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        schema = spec
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {reference}"));
    }
    schema
}

/// Every keyword of `schema` and the schemas inside it, with where it is.
fn collect(spec: &Value, schema: &Value, at: &str, found: &mut BTreeMap<String, BTreeSet<String>>) {
    let schema = resolve(spec, schema);
    let Some(map) = schema.as_object() else {
        return;
    };
    for (keyword, value) in map {
        found
            .entry(keyword.clone())
            .or_default()
            .insert(at.to_string());
        match keyword.as_str() {
            "properties" => {
                for (name, property) in value.as_object().into_iter().flatten() {
                    collect(spec, property, &format!("{at}.{name}"), found);
                }
            }
            "items" | "additionalProperties" | "not" if value.is_object() => {
                collect(spec, value, &format!("{at}[]"), found)
            }
            "anyOf" | "oneOf" | "allOf" => {
                for member in value.as_array().into_iter().flatten() {
                    collect(spec, member, at, found);
                }
            }
            "format" => assert!(
                ["int32", "int64"].contains(&value.as_str().unwrap_or_default()),
                "{at}: format {value} is not enforced; classify it in src/api/rules.rs"
            ),
            _ => {}
        }
    }
}

/// The keywords of every request schema (parameters and bodies) of a spec.
fn request_keywords(document: &str) -> BTreeMap<String, BTreeSet<String>> {
    let spec: Value = serde_json::from_str(document).unwrap();
    let mut found = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let at = format!("{} {path}", method.to_uppercase());
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let parameter = resolve(&spec, parameter);
                let name = parameter["name"].as_str().unwrap_or_default();
                collect(
                    &spec,
                    &parameter["schema"],
                    &format!("{at} {name}"),
                    &mut found,
                );
            }
            let body = resolve(&spec, &operation["requestBody"]);
            for media in body["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, m)| m)
            {
                collect(&spec, &media["schema"], &format!("{at} body"), &mut found);
            }
        }
    }
    found
}

/// Fails when `document` uses, in a request, a keyword that can reject a
/// value and that `tested` (the keywords a test shows a 400 for) lacks.
/// `properties` and `items` only hold other schemas; where a spec uses
/// `additionalProperties` or `anyOf` only to admit any value, the test shows
/// such a value taken instead (`admits_any`).
fn assert_every_rejecting_keyword_tested(document: &str, tested: &[&str], admits_any: &[&str]) {
    let used = request_keywords(document);
    let untested: Vec<&str> = REQUEST_KEYWORDS
        .iter()
        .filter(|k| k.rejects && used.contains_key(k.name))
        .map(|k| k.name)
        .filter(|k| !["properties", "items"].contains(k))
        .filter(|k| !tested.contains(k) && !admits_any.contains(k))
        .collect();
    assert!(
        untested.is_empty(),
        "keywords with no 400 test on this API: {untested:?}"
    );
}

#[test]
fn every_keyword_of_every_request_schema_is_classified() {
    let classified: BTreeSet<&str> = REQUEST_KEYWORDS.iter().map(|k| k.name).collect();
    for (api, document) in [
        ("unkey", keyward::generated::unkey::DOCUMENT),
        ("sinch", keyward::generated::sinch_access_keys::DOCUMENT),
    ] {
        let found = request_keywords(document);
        println!("{api}: {:?}", found.keys().collect::<Vec<_>>());
        let unclassified: Vec<String> = found
            .iter()
            .filter(|(keyword, _)| !classified.contains(keyword.as_str()))
            .map(|(keyword, places)| format!("{keyword} (at {})", places.first().unwrap()))
            .collect();
        assert!(
            unclassified.is_empty(),
            "{api}: request schemas use keywords that src/api/rules.rs does not classify: {unclassified:?}"
        );
    }
}

/// A made-up spec whose one operation takes the component schema `X` as its
/// body.
fn spec_posting_x(openapi: &str, schemas: Value) -> Value {
    json!({
        "openapi": openapi,
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"post": {
            "operationId": "x",
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}},
            "responses": {"200": {"description": "ok"}}
        }}},
        "components": {"schemas": schemas}
    })
}

/// A made-up spec with the keywords neither API uses in a request, so that
/// the check is shown to enforce them too.
#[test]
fn keywords_the_specs_do_not_use_yet_are_enforced_too() {
    static DOCUMENT: OnceLock<Result<Document, String>> = OnceLock::new();
    let spec = spec_posting_x(
        "3.0.0",
        json!({"X": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true},
                "ratio": {"type": "integer", "maximum": 10, "exclusiveMaximum": true},
                "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "both": {"allOf": [{"type": "integer"}, {"minimum": 3}]}
            },
            "additionalProperties": false
        }}),
    );
    let document = Document::load(&DOCUMENT, &spec.to_string());
    let rules = Rules::compile(document, "X");
    rules.ready().unwrap();
    let cases = [
        (json!({"code": "ABC"}), "code does not match \"^[a-z]+$\""),
        (json!({"tags": []}), "tags has less than 1 item"),
        (json!({"tags": ["a", "a"]}), "tags has non-unique elements"),
        (
            json!({"ratio": 10}),
            "ratio is greater than or equal to the maximum of 10",
        ),
        (json!({"either": true}), "either"),
        (json!({"both": 2}), "both is less than the minimum of 3"),
        (json!({"other": 1}), "Additional properties are not allowed"),
    ];
    for (value, message) in cases {
        let error = rules
            .check(&value, keyward::api::rules::Part::Body)
            .expect_err(&value.to_string());
        assert!(
            error.external_message.contains(message),
            "{value}: {:?} should contain {message:?}",
            error.external_message
        );
    }
    rules
        .check(
            &json!({"code": "abc", "tags": ["a"], "ratio": 9, "either": 1, "both": 3}),
            keyward::api::rules::Part::Body,
        )
        .expect("a value that keeps every rule");
}

/// A body is checked as sent, in place (src/api/instance.rs): for every body
/// the verdict is the one jsonschema gives on its `serde_json::Value`, and a
/// rejection names the same rule as a check of the parsed value.
#[test]
fn a_body_checked_in_place_gets_the_verdict_of_its_parsed_value() {
    static DOCUMENT: OnceLock<Result<Document, String>> = OnceLock::new();
    let schemas = json!({"X": {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true},
            "ratio": {"type": "integer", "minimum": -3, "maximum": 10},
            "level": {"type": "string", "enum": ["low", "high"]},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "nested": {
                "type": "object",
                "properties": {"n": {"type": ["integer", "null"]}},
                "additionalProperties": {"type": "boolean"}
            }
        },
        "additionalProperties": false
    }});
    let spec = spec_posting_x("3.1.0", schemas.clone());
    let rules = Rules::compile(Document::load(&DOCUMENT, &spec.to_string()), "X");
    rules.ready().unwrap();
    let reference = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&json!({"$ref": "#/components/schemas/X", "components": {"schemas": schemas}}))
        .unwrap();
    let bodies = [
        r#"{"code":"abc"}"#,
        r#"{"code":"a\u0062c"}"#,
        r#"{"code":"\u00e9"}"#,
        r#"{"code":"AbC"}"#,
        r#"{"code":"abcd"}"#,
        r#"{"code":"abc","code":"ABC"}"#,
        r#"{"code":"ABC","code":"abc"}"#,
        r#"{}"#,
        r#"{"code":"a","tags":["x","y"]}"#,
        r#"{"code":"a","tags":["x","x"]}"#,
        r#"{"code":"a","tags":[]}"#,
        r#"{"code":"a","tags":[1]}"#,
        r#"{"code":"a","ratio":10}"#,
        r#"{"code":"a","ratio":9.0}"#,
        r#"{"code":"a","ratio":11}"#,
        r#"{"code":"a","ratio":-4}"#,
        r#"{"code":"a","ratio":2.5}"#,
        r#"{"code":"a","ratio":18446744073709551615}"#,
        r#"{"code":"a","level":"high"}"#,
        r#"{"code":"a","level":"medium"}"#,
        r#"{"code":"a","level":1}"#,
        r#"{"code":"a","either":"s"}"#,
        r#"{"code":"a","either":1.5}"#,
        r#"{"code":"a","nested":{"n":null,"flag":true}}"#,
        r#"{"code":"a","nested":{"n":"x"}}"#,
        r#"{"code":"a","nested":{"flag":"yes"}}"#,
        r#"{"code":"a","other":1}"#,
        r#"{"code":null}"#,
        r#"["code"]"#,
        r#""code""#,
        "null",
        "1",
    ];
    // Past 16 members an object finds repeated names through an index.
    let many: Vec<String> = (0..20).map(|i| format!(r#""k{i}":true"#)).collect();
    let large =
        |repeat: &str| format!(r#"{{"code":"a","nested":{{{},{repeat}}}}}"#, many.join(","));
    let large = [large(r#""k3":false"#), large(r#""k3":"no""#)];
    for body in bodies.into_iter().chain(large.iter().map(String::as_str)) {
        let value: Value = serde_json::from_str(body).unwrap();
        let in_place = rules.check_body(body.as_bytes());
        assert_eq!(in_place.is_ok(), reference.is_valid(&value), "{body}");
        let parsed = rules.check(&value, keyward::api::rules::Part::Body);
        assert_eq!(
            in_place.err().map(|e| e.external_message),
            parsed.err().map(|e| e.external_message),
            "{body}"
        );
    }
    let not_json = rules.check_body(b"{\"code\":").unwrap_err();
    assert!(
        not_json
            .external_message
            .starts_with("unable to parse JSON body")
    );
}

/// One request per keyword that can reject a value in an Unkey request: each
/// is a 400 in Unkey's shape, naming the field.
#[tokio::test]
async fn each_unkey_request_rule_is_a_400() {
    let fx = UnkeyFixture::new().await;
    let api = fx.api_id.clone();
    let too_many: Vec<Value> = (0..101).map(|_| json!({})).collect();
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "type",
            "/v1/apis.createApi",
            json!(["abc"]),
            "the request body is not of type \"object\"",
        ),
        (
            "type",
            "/v1/keys.createKey",
            json!({"apiId": api, "expires": "soon"}),
            "expires is not of type \"integer\"",
        ),
        (
            "nullable",
            "/v1/keys.createKey",
            json!({"apiId": api, "name": null}),
            "name must not be null",
        ),
        (
            "required",
            "/v1/keys.createKey",
            json!({}),
            "\"apiId\" is a required property",
        ),
        (
            "required",
            "/v1/keys.createKey",
            json!({"apiId": api, "ratelimit": {"limit": 1}}),
            "ratelimit: \"refillRate\" is a required property",
        ),
        (
            "minLength",
            "/v1/apis.createApi",
            json!({"name": "ab"}),
            "name is shorter than 3 characters",
        ),
        (
            "maxLength",
            "/v1/keys.createKey",
            json!({"apiId": api, "prefix": "ninechars"}),
            "prefix is longer than 8 characters",
        ),
        (
            "minimum",
            "/v1/keys.createKey",
            json!({"apiId": api, "byteLength": 15}),
            "byteLength is less than the minimum of 16",
        ),
        (
            "maximum",
            "/v1/keys.createKey",
            json!({"apiId": api, "byteLength": 256}),
            "byteLength is greater than the maximum of 255",
        ),
        (
            "exclusiveMinimum",
            "/v1/keys.verifyKey",
            json!({"key": "k", "ratelimit": {"cost": 0}}),
            "ratelimit.cost is less than or equal to the minimum of 0",
        ),
        (
            "maxItems",
            "/v1/migrations.createKeys",
            json!(too_many),
            "the request body has more than 100 items",
        ),
        (
            "enum",
            "/v1/keys.createKey",
            json!({"apiId": api, "ratelimit": {"type": "slow", "limit": 1, "refillRate": 1, "refillInterval": 1}}),
            "ratelimit.type",
        ),
        (
            "format",
            "/v1/keys.createKey",
            json!({"apiId": api, "expires": 1.5}),
            "expires is not of type \"integer\"",
        ),
    ];
    let mut tested: Vec<&str> = cases.iter().map(|case| case.0).collect();
    for (keyword, path, body, message) in cases {
        let response = fx.post(path, body).await;
        println!("{keyword}: {path}: {}", response.body["error"]["message"]);
        assert_eq!(
            response.body["error"]["code"],
            json!("BAD_REQUEST"),
            "{keyword}"
        );
        assert_error(&response, 400, message);
    }
    // A query value is read as its parameter's type, then checked.
    tested.extend(["type", "maximum", "minimum"]);
    for (keyword, query, message) in [
        ("type", "limit=ten", "limit is not of type \"integer\""),
        (
            "maximum",
            "limit=101",
            "limit is greater than the maximum of 100",
        ),
        ("minimum", "limit=0", "limit is less than the minimum of 1"),
        ("type", "limit=", "limit is not of type \"integer\""),
    ] {
        let response = fx
            .get(&format!("/v1/apis.listKeys?apiId={api}&{query}"))
            .await;
        println!(
            "{keyword}: listKeys?{query}: {}",
            response.body["error"]["message"]
        );
        assert_error(&response, 400, message);
    }
    // Where the spec admits null or any value, they are taken.
    let (key_id, _) = fx.create_key(json!({"ownerId": "user_1"})).await;
    let cleared = fx
        .post(
            "/v1/keys.updateKey",
            json!({"keyId": key_id, "ownerId": null, "expires": null}),
        )
        .await;
    assert_eq!(
        cleared.status, 200,
        "nullable fields take null: {}",
        cleared.body
    );
    let meta = json!({"nested": {"list": [1, null]}, "nothing": null});
    let created = fx
        .post("/v1/keys.createKey", json!({"apiId": api, "meta": meta}))
        .await;
    assert_eq!(
        created.status, 200,
        "additionalProperties admits any value: {}",
        created.body
    );
    assert_every_rejecting_keyword_tested(
        keyward::generated::unkey::DOCUMENT,
        &tested,
        &["additionalProperties", "anyOf"],
    );
    fx.shutdown().await;
}

/// The same for the Sinch API, whose requests use `type` and `format`.
#[tokio::test]
async fn each_sinch_request_rule_is_a_400() {
    let fx = crate::sinch::Fixture::new().await;
    let auth = fx.auth();
    let cases: Vec<(&str, &str, String, Option<Value>, &str)> = vec![
        (
            "type",
            "POST",
            fx.keys_path(),
            Some(json!(["abc"])),
            "the request body is not of type \"object\"",
        ),
        (
            "type",
            "POST",
            fx.keys_path(),
            Some(json!({"displayName": 5})),
            "displayName is not of type \"string\"",
        ),
        (
            "type",
            "GET",
            format!("{}?pageSize=ten", fx.keys_path()),
            None,
            "pageSize is not of type \"integer\"",
        ),
        (
            "format",
            "GET",
            format!("{}?pageSize=3000000000", fx.keys_path()),
            None,
            "pageSize",
        ),
    ];
    let tested: Vec<&str> = cases.iter().map(|case| case.0).collect();
    assert_every_rejecting_keyword_tested(
        keyward::generated::sinch_access_keys::DOCUMENT,
        &tested,
        &[],
    );
    for (keyword, method, path, body, message) in cases {
        let response = fx.call(method, &path, body, Some(&auth)).await;
        println!(
            "{keyword}: {method} {path}: {}",
            response.body["error"]["message"]
        );
        assert_eq!(response.status, 400, "{keyword}: {}", response.body);
        assert_eq!(
            response.body["error"]["status"],
            json!("INVALID_ARGUMENT"),
            "{keyword}"
        );
        let text = response.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            text.contains(message),
            "{keyword}: {text:?} should contain {message:?}"
        );
    }
    // "If left empty, a default page size of 100 is used."
    let empty = fx
        .call(
            "GET",
            &format!("{}?pageSize=", fx.keys_path()),
            None,
            Some(&auth),
        )
        .await;
    assert_eq!(
        empty.status, 200,
        "pageSize= is the default: {}",
        empty.body
    );
    fx.shutdown().await;
}
