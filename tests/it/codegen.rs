//! Unit tests of the generator's JSON passes (`codegen/openapi.rs`).

use crate::openapi::{self, ApiNames};
use serde_json::json;

#[test]
fn names_come_from_the_file_name() {
    let names = ApiNames::from_file_name("sinch-access-keys-v1.openapi.json").unwrap();
    assert_eq!(names.module, "sinch_access_keys");
    assert_eq!(names.trait_name, "SinchAccessKeysApi");
    assert_eq!(
        ApiNames::from_file_name("unkey-v1.openapi.json")
            .unwrap()
            .trait_name,
        "UnkeyApi"
    );
    assert_eq!(ApiNames::from_file_name("unkey.json"), None);
}

#[test]
fn operation_ids_are_synthesized_from_paths() {
    assert_eq!(
        openapi::synthesize_operation_id("get", "/v1/keys.getKey"),
        "keys_get_key"
    );
    assert_eq!(
        openapi::synthesize_operation_id("post", "/v1/keys/verify"),
        "post_keys_verify"
    );
    assert_eq!(
        openapi::synthesize_operation_id("post", "/v1/keys"),
        "post_keys"
    );
    assert_eq!(
        openapi::synthesize_operation_id("get", "/v1/apis/{apiId}/keys"),
        "get_apis_api_id_keys"
    );
    assert_eq!(
        openapi::snake_case("AccessKeyService_ListAccessKeys"),
        "access_key_service_list_access_keys"
    );
    assert_eq!(openapi::pascal_case("keys_get_key"), "KeysGetKey");
}

#[test]
fn nullable_becomes_a_null_type() {
    let converted = openapi::to_json_schema(&json!({"type": "string", "nullable": true}));
    assert_eq!(converted, json!({"type": ["string", "null"]}));
    let with_enum =
        openapi::to_json_schema(&json!({"type": "string", "enum": ["a"], "nullable": true}));
    assert_eq!(
        with_enum,
        json!({"type": ["string", "null"], "enum": ["a", null]})
    );
    let reference =
        openapi::to_json_schema(&json!({"$ref": "#/components/schemas/X", "nullable": true}));
    assert_eq!(
        reference,
        json!({"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]})
    );
    // An untyped schema already accepts null.
    assert_eq!(
        openapi::to_json_schema(&json!({"nullable": true})),
        json!({})
    );
}

#[test]
fn boolean_exclusive_bounds_become_numbers() {
    let converted = openapi::to_json_schema(
        &json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true}),
    );
    assert_eq!(converted, json!({"type": "integer", "exclusiveMinimum": 0}));
    let inclusive = openapi::to_json_schema(
        &json!({"type": "integer", "maximum": 9, "exclusiveMaximum": false}),
    );
    assert_eq!(inclusive, json!({"type": "integer", "maximum": 9}));
}

#[test]
fn any_of_with_an_any_value_member_collapses() {
    let schema =
        json!({"description": "meta value", "anyOf": [{"type": "string"}, {"nullable": true}]});
    assert_eq!(
        openapi::to_json_schema(&schema),
        json!({"description": "meta value"})
    );
    let kept = json!({"anyOf": [{"type": "string"}, {"type": "number"}]});
    assert_eq!(openapi::to_json_schema(&kept), kept);
}

#[test]
fn conversion_reaches_nested_schemas() {
    let schema = json!({
        "type": "object",
        "properties": { "a": { "type": "array", "items": { "type": "integer", "nullable": true } } },
        "additionalProperties": { "type": "string", "nullable": true, "example": "x" }
    });
    assert_eq!(
        openapi::to_json_schema(&schema),
        json!({
            "type": "object",
            "properties": { "a": { "type": "array", "items": { "type": ["integer", "null"] } } },
            "additionalProperties": { "type": ["string", "null"] }
        })
    );
}

fn sample_spec() -> serde_json::Value {
    json!({
        "openapi": "3.0.0",
        "paths": {
            "/v1/things.update": { "post": {
                "requestBody": { "content": { "application/json": { "schema": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": { "type": "string" },
                        "name": { "type": "string", "nullable": true },
                        "size": { "type": "integer" }
                    }
                }}}},
                "responses": {
                    "200": { "description": "ok", "content": { "application/json": { "schema": { "type": "object", "properties": {} } } } },
                    "400": { "$ref": "#/components/responses/Bad" }
                }
            }},
            "/v1/things/{thingId}": { "get": {
                "operationId": "Things_Get",
                "parameters": [
                    { "name": "thingId", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "verbose", "in": "query", "schema": { "type": "boolean" }, "description": "More." }
                ],
                "responses": { "200": { "description": "ok" } }
            }}
        },
        "components": {
            "schemas": {},
            "responses": { "Bad": { "description": "bad", "content": { "application/json": { "schema": { "type": "object" } } } } }
        }
    })
}

#[test]
fn normalize_hoists_inline_schemas_and_parameters() {
    let normalized = openapi::normalize(&sample_spec()).unwrap();
    let ops = &normalized.operations;
    assert_eq!(ops.len(), 2);

    let update = &ops[0];
    assert_eq!(
        (update.operation_id.as_str(), update.method.as_str()),
        ("things_update", "POST")
    );
    assert_eq!(
        update.body,
        Some((
            "ThingsUpdateBody".to_string(),
            "application/json".to_string()
        ))
    );
    assert_eq!(update.ok_response, "ThingsUpdateResponse");
    assert_eq!(
        normalized
            .spec
            .pointer("/paths/~1v1~1things.update/post/responses/400/description"),
        Some(&json!("bad")),
        "shared responses are inlined"
    );
    // Optional and nullable: null and absent must stay apart.
    assert_eq!(
        normalized.absent_or_null,
        vec![("ThingsUpdateBody".to_string(), "name".to_string())]
    );

    let get = &ops[1];
    assert_eq!(get.operation_id, "Things_Get");
    assert_eq!(get.fn_name, "things_get");
    assert_eq!(get.path_params.as_deref(), Some("ThingsGetPath"));
    assert_eq!(get.query_params.as_deref(), Some("ThingsGetQuery"));
    assert_eq!(
        get.ok_response, "ThingsGetResponse",
        "a 200 without a body answers an empty object"
    );
    let query = &normalized.spec["components"]["schemas"]["ThingsGetQuery"];
    assert_eq!(
        query["properties"]["verbose"]["description"],
        json!("More.")
    );
    assert_eq!(query["required"], json!([]));
    assert_eq!(
        normalized.spec["components"]["schemas"]["ThingsGetPath"]["required"],
        json!(["thingId"])
    );
}

#[test]
fn client_spec_has_one_error_schema() {
    let normalized = openapi::normalize(&sample_spec()).unwrap();
    let client = openapi::client_spec(&normalized.spec);
    assert_eq!(
        client["components"]["schemas"]["ClientError"],
        json!({"type": "object"})
    );
    assert_eq!(
        client.pointer(
            "/paths/~1v1~1things.update/post/responses/400/content/application~1json/schema"
        ),
        Some(&json!({"$ref": "#/components/schemas/ClientError"}))
    );
}
