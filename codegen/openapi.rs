//! Pure JSON passes over an OpenAPI 3.0 document: naming, normalization, the
//! OpenAPI → JSON Schema conversion and the client-only copy for progenitor.
//!
//! This file depends on `serde_json` alone so that the test suite can include
//! it too: responses are validated with exactly the conversion the generated
//! types were built from.

use serde_json::{Map, Value, json};

/// The methods an OpenAPI path item may carry, in the order we emit them.
pub const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// One operation of a normalized spec, with the names of its hoisted types.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The spec's `operationId`, or one synthesized from the path.
    pub operation_id: String,
    /// The Rust method name: `operation_id` in snake case.
    pub fn_name: String,
    /// Upper-case HTTP method, e.g. `GET`.
    pub method: String,
    pub path: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// Component schema holding the path parameters, if any.
    pub path_params: Option<String>,
    /// Component schema holding the query parameters, if any.
    pub query_params: Option<String>,
    /// Component schema of the request body and its content type.
    pub body: Option<(String, String)>,
    /// Component schema of the 200 response.
    pub ok_response: String,
}

/// Names the parts of one API from its spec's file name:
/// `sinch-access-keys-v1.openapi.json` → module `sinch_access_keys`, trait
/// `SinchAccessKeysApi`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiNames {
    pub module: String,
    pub trait_name: String,
}

impl ApiNames {
    pub fn from_file_name(file_name: &str) -> Option<ApiNames> {
        let stem = file_name.strip_suffix(".openapi.json")?;
        // A trailing `-v1` names the version, not the API.
        let stem = match stem.rsplit_once("-v") {
            Some((name, version)) if version.chars().all(|c| c.is_ascii_digit()) => name,
            _ => stem,
        };
        let module = snake_case(stem);
        let trait_name = format!("{}Api", pascal_case(&module));
        Some(ApiNames { module, trait_name })
    }
}

/// `keys.getKey` → `keys_get_key`, `AccessKeyService_ListAccessKeys` →
/// `access_key_service_list_access_keys`.
pub fn snake_case(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower_or_digit = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower_or_digit {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower_or_digit = false;
        }
    }
    out.trim_end_matches('_').to_string()
}

/// `keys_get_key` → `KeysGetKey`.
pub fn pascal_case(s: &str) -> String {
    snake_case(s)
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// An operationId for an operation that has none.
///
/// RPC-style paths name themselves (`/v1/keys.getKey` → `keys_get_key`); other
/// paths get the method and their literal segments (`POST /v1/keys/verify` →
/// `post_keys_verify`). A leading version segment is dropped.
pub fn synthesize_operation_id(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .skip_while(|s| is_version_segment(s))
        .collect();
    if let [single] = segments.as_slice()
        && single.contains('.')
    {
        return snake_case(single);
    }
    let mut parts = vec![method.to_ascii_lowercase()];
    for segment in segments {
        let name = segment.trim_start_matches('{').trim_end_matches('}');
        parts.push(snake_case(name));
    }
    parts.join("_")
}

fn is_version_segment(s: &str) -> bool {
    s.len() > 1 && s.starts_with('v') && s[1..].chars().all(|c| c.is_ascii_digit())
}

/// Resolves a local `$ref` such as `#/components/responses/400Error`.
fn resolve<'a>(spec: &'a Value, reference: &str) -> Option<&'a Value> {
    spec.pointer(reference.strip_prefix('#')?)
}

/// Replaces `$ref`s to `components/{responses,parameters,requestBodies}` with
/// their targets, so that later passes only see schema references.
fn inline_component_refs(spec: &Value, value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let inlinable = ["responses", "parameters", "requestBodies"]
                    .iter()
                    .any(|kind| reference.starts_with(&format!("#/components/{kind}/")));
                if inlinable && let Some(target) = resolve(spec, reference) {
                    return inline_component_refs(spec, target);
                }
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), inline_component_refs(spec, v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| inline_component_refs(spec, v))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The result of [`normalize`].
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The spec with operationIds set, shared components inlined, and every
    /// parameter list, body and 200 response hoisted into a named component
    /// schema. Schemas are still OpenAPI 3.0 schemas.
    pub spec: Value,
    pub operations: Vec<Operation>,
    /// `(schema, property)` pairs that are optional *and* nullable in a request
    /// body: absent and `null` mean different things there.
    pub absent_or_null: Vec<(String, String)>,
}

/// Normalizes a spec: see [`Normalized`].
pub fn normalize(raw: &Value) -> Result<Normalized, String> {
    let mut spec = raw.clone();
    let paths = raw
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("spec has no paths")?;
    let mut schemas: Map<String, Value> = raw
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut operations = Vec::new();
    let mut absent_or_null = Vec::new();

    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let mut op = inline_component_refs(raw, op);
            let operation_id = match op.get("operationId").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => synthesize_operation_id(method, path),
            };
            let fn_name = snake_case(&operation_id);
            let type_prefix = pascal_case(&fn_name);
            op["operationId"] = json!(operation_id);

            let parameters = op
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let path_params =
                hoist_parameters(&parameters, "path", &type_prefix, "Path", &mut schemas)?;
            let query_params =
                hoist_parameters(&parameters, "query", &type_prefix, "Query", &mut schemas)?;

            let body = match op.pointer_mut("/requestBody/content") {
                Some(Value::Object(content)) => {
                    let (content_type, media) = content
                        .iter_mut()
                        .next()
                        .ok_or_else(|| format!("{operation_id}: empty request body content"))?;
                    let name = format!("{type_prefix}Body");
                    let schema = media.get("schema").cloned().unwrap_or_else(|| json!({}));
                    let name = hoist_schema(&schema, &name, &mut schemas);
                    if content_type == "application/json" {
                        absent_or_null.extend(optional_nullable_properties(&schemas, &name));
                    }
                    media["schema"] = schema_ref(&name);
                    Some((name, content_type.clone()))
                }
                _ => None,
            };

            let ok = op
                .pointer_mut("/responses/200")
                .ok_or_else(|| format!("{operation_id}: no 200 response"))?;
            let ok_schema = ok.pointer("/content/application~1json/schema").cloned();
            let ok_response = match ok_schema {
                Some(schema) => {
                    let name =
                        hoist_schema(&schema, &format!("{type_prefix}Response"), &mut schemas);
                    ok["content"]["application/json"]["schema"] = schema_ref(&name);
                    name
                }
                // A 200 without a body: we answer `{}`, which every client accepts.
                None => hoist_schema(
                    &json!({"type": "object", "properties": {}}),
                    &format!("{type_prefix}Response"),
                    &mut schemas,
                ),
            };

            operations.push(Operation {
                operation_id,
                fn_name,
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                summary: op
                    .get("summary")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                description: op
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                tags: op
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|tags| {
                        tags.iter()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                path_params,
                query_params,
                body,
                ok_response,
            });
            spec["paths"][path][method] = op;
        }
    }
    spec["components"]["schemas"] = Value::Object(schemas);
    Ok(Normalized {
        spec,
        operations,
        absent_or_null,
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Returns the component name a schema is known by, adding it under `name`
/// when it is inline.
fn hoist_schema(schema: &Value, name: &str, schemas: &mut Map<String, Value>) -> String {
    if let Some(existing) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        return existing.to_string();
    }
    schemas.insert(name.to_string(), schema.clone());
    name.to_string()
}

/// Collects the parameters found `location` into one object schema.
fn hoist_parameters(
    parameters: &[Value],
    location: &str,
    type_prefix: &str,
    suffix: &str,
    schemas: &mut Map<String, Value>,
) -> Result<Option<String>, String> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for parameter in parameters.iter().filter(|p| p["in"] == location) {
        let name = parameter["name"]
            .as_str()
            .ok_or_else(|| format!("{type_prefix}: parameter without a name"))?;
        let mut schema = parameter
            .get("schema")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Value::Object(fields) = &mut schema {
            if let Some(description) = parameter.get("description") {
                fields
                    .entry("description")
                    .or_insert_with(|| description.clone());
            }
            // Kept on the property: an empty value then means "not given".
            if parameter["allowEmptyValue"] == true {
                fields.insert("allowEmptyValue".into(), json!(true));
            }
        }
        properties.insert(name.to_string(), schema);
        if parameter["required"] == true || location == "path" {
            required.push(json!(name));
        }
    }
    if properties.is_empty() {
        return Ok(None);
    }
    let name = format!("{type_prefix}{suffix}");
    schemas.insert(
        name.clone(),
        json!({ "type": "object", "properties": properties, "required": required }),
    );
    Ok(Some(name))
}

fn optional_nullable_properties(schemas: &Map<String, Value>, name: &str) -> Vec<(String, String)> {
    let Some(schema) = schemas.get(name) else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(prop, s)| s["nullable"] == true && !required.contains(&prop.as_str()))
                .map(|(prop, _)| (name.to_string(), prop.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Converts an OpenAPI 3.0 schema object to JSON Schema (draft 2020-12
/// semantics, which is also what schemars 0.8 reads):
/// - `nullable: true` becomes a `"null"` type, or an `anyOf` with null for
///   `$ref`/`allOf`/`oneOf` schemas; on an untyped schema it is dropped, since
///   any value already includes null;
/// - boolean `exclusiveMinimum`/`exclusiveMaximum` become numeric bounds;
/// - an `anyOf` with a member that accepts anything collapses to any value.
///
/// `$ref`s are left pointing at `#/components/schemas/...`.
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" => match value {
                Value::Object(props) => Value::Object(
                    props
                        .iter()
                        .map(|(k, v)| (k.clone(), to_json_schema(v)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" => to_json_schema(value),
            "anyOf" | "oneOf" | "allOf" => match value {
                Value::Array(members) => Value::Array(members.iter().map(to_json_schema).collect()),
                other => other.clone(),
            },
            // OpenAPI-only keywords with no JSON Schema meaning.
            "nullable" | "example" | "xml" | "externalDocs" | "discriminator" => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }

    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match out.get(flag) {
            Some(Value::Bool(true)) => {
                let limit = out.remove(bound).unwrap_or(json!(0));
                out.insert(flag.to_string(), limit);
            }
            Some(Value::Bool(false)) => {
                out.remove(flag);
            }
            _ => {}
        }
    }

    if let Some(Value::Array(members)) = out.get("anyOf")
        && members.iter().any(accepts_anything)
    {
        out.remove("anyOf");
    }

    if map.get("nullable") == Some(&Value::Bool(true)) {
        make_nullable(&mut out);
    }
    Value::Object(out)
}

/// Keywords that only annotate a schema and never reject a value.
const ANNOTATIONS: [&str; 6] = [
    "description",
    "title",
    "example",
    "examples",
    "default",
    "deprecated",
];

fn accepts_anything(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(map) => map.keys().all(|k| ANNOTATIONS.contains(&k.as_str())),
        _ => false,
    }
}

fn make_nullable(out: &mut Map<String, Value>) {
    match out.get_mut("type") {
        Some(Value::String(t)) => {
            let t = t.clone();
            out.insert("type".into(), json!([t, "null"]));
            // An enum must list null too, or it still rejects it.
            if let Some(Value::Array(values)) = out.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
        }
        Some(Value::Array(types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
        }
        Some(_) => {}
        None => {
            let composite = ["$ref", "allOf", "oneOf", "anyOf"];
            if composite.iter().any(|k| out.contains_key(*k)) {
                let mut inner = Map::new();
                for key in composite {
                    if let Some(v) = out.remove(key) {
                        inner.insert(key.to_string(), v);
                    }
                }
                out.insert(
                    "anyOf".into(),
                    json!([Value::Object(inner), {"type": "null"}]),
                );
            }
            // Untyped: already accepts null.
        }
    }
}

/// Every component schema of a normalized spec, converted to JSON Schema.
pub fn component_json_schemas(spec: &Value) -> Map<String, Value> {
    spec.pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|schemas| {
            schemas
                .iter()
                .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
                .collect()
        })
        .unwrap_or_default()
}

/// A copy of a normalized spec that progenitor accepts: every operation
/// answers one success type and one error type, so every non-2xx response
/// points at a single error schema (a `oneOf` when a spec has several).
pub fn client_spec(normalized: &Value) -> Value {
    let mut spec = normalized.clone();
    let mut error_schemas: Vec<Value> = Vec::new();
    if let Some(paths) = normalized.get("paths").and_then(Value::as_object) {
        for item in paths.values() {
            for method in METHODS {
                let Some(responses) = item.pointer(&format!("/{method}/responses")) else {
                    continue;
                };
                for (status, response) in responses.as_object().into_iter().flatten() {
                    if status.starts_with('2') {
                        continue;
                    }
                    if let Some(schema) = response.pointer("/content/application~1json/schema")
                        && !error_schemas.contains(schema)
                    {
                        error_schemas.push(schema.clone());
                    }
                }
            }
        }
    }
    let error_schema = match error_schemas.len() {
        0 => return spec,
        1 => error_schemas.remove(0),
        _ => json!({ "oneOf": error_schemas }),
    };
    spec["components"]["schemas"]["ClientError"] = error_schema;

    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                let Some(Value::Object(responses)) =
                    item.pointer_mut(&format!("/{method}/responses"))
                else {
                    continue;
                };
                for (status, response) in responses.iter_mut() {
                    if status.starts_with('2') {
                        continue;
                    }
                    let description = response.get("description").cloned().unwrap_or(json!(""));
                    *response = json!({
                        "description": description,
                        "content": { "application/json": { "schema": schema_ref("ClientError") } }
                    });
                }
            }
        }
    }
    spec
}
