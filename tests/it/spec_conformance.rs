//! The OpenAPI document of each generated trait against its input spec:
//! every path, method, operationId and parameter of the spec is served.

use crate::openapi;
use serde_json::Value;
use std::collections::BTreeSet;

/// A spec as the code was generated from it: with its overlay applied.
fn input_spec(file: &str) -> openapi::Normalized {
    let path = format!("{}/{file}", env!("OUT_DIR"));
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    openapi::normalize(&raw).unwrap()
}

/// (name, location, required) of an operation's parameters.
fn parameters(operation: &Value) -> BTreeSet<(String, String, bool)> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["in"].as_str().unwrap_or_default().to_string(),
                p["required"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn assert_trait_serves_spec(file: &str, served: Value) {
    let input = input_spec(file);
    let mut expected_routes = BTreeSet::new();
    for op in &input.operations {
        let method = op.method.to_lowercase();
        expected_routes.insert((op.path.clone(), method.clone()));
        let what = format!("{file}: {} {}", op.method, op.path);
        let spec_op = input.spec["paths"][&op.path][&method].clone();
        let served_op = served["paths"][&op.path][&method].clone();
        assert!(served_op.is_object(), "{what} is not served");
        assert_eq!(
            served_op["operationId"], spec_op["operationId"],
            "{what}: operationId"
        );
        assert_eq!(
            parameters(&served_op),
            parameters(&spec_op),
            "{what}: parameters"
        );
        let content_types = |o: &Value| -> Vec<String> {
            o.pointer("/requestBody/content")
                .and_then(Value::as_object)
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(
            content_types(&served_op),
            content_types(&spec_op),
            "{what}: request body"
        );
        assert!(
            served_op.pointer("/responses/200").is_some(),
            "{what}: 200 response"
        );
        if let Some(properties) = input.spec.pointer(&format!(
            "/components/schemas/{}/properties",
            op.body
                .as_ref()
                .map(|(name, _)| name.as_str())
                .unwrap_or("-")
        )) {
            let served_body = served_op
                .pointer("/requestBody/content/application~1json/schema/$ref")
                .and_then(Value::as_str);
            let name = served_body
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or_default();
            let served_properties =
                served.pointer(&format!("/components/schemas/{name}/properties"));
            let keys = |v: Option<&Value>| -> BTreeSet<String> {
                v.and_then(Value::as_object)
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default()
            };
            assert_eq!(
                keys(served_properties),
                keys(Some(properties)),
                "{what}: body properties"
            );
        }
    }
    let served_routes: BTreeSet<(String, String)> = served["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    assert_eq!(served_routes, expected_routes, "{file}: served routes");
}

#[test]
fn unkey_trait_serves_the_unkey_spec() {
    assert_trait_serves_spec(
        "unkey.openapi.json",
        keyward::server::unkey_openapi().unwrap(),
    );
}

#[test]
fn sinch_trait_serves_the_sinch_spec() {
    assert_trait_serves_spec(
        "sinch_access_keys.openapi.json",
        keyward::server::sinch_openapi().unwrap(),
    );
}

#[test]
fn both_apis_register_on_one_server() {
    // Registration panics or fails on a route clash between the two APIs.
    keyward::server::api_description().expect("both APIs and their 405 fallbacks register");
}
