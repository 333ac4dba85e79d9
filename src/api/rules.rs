//! Every rule a spec states about a request, enforced before the request is
//! read into its generated type.
//!
//! typify's types enforce some keywords and silently drop others (a JSON
//! array read positionally into a struct, `null` read as absent, `maxItems`
//! ignored). So each request (body, query or path) is first checked against
//! the JSON Schema it was generated from, compiled once per type from the
//! served, overlaid document. [`REQUEST_KEYWORDS`] says how each keyword
//! the specs use in requests is enforced; `tests/it/rules.rs` fails on one
//! it does not list.

use super::instance::{InPlace, Instance, Parsed};
use dropshot::HttpError;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[path = "../../codegen/openapi.rs"]
#[allow(dead_code)]
mod openapi;

/// How a JSON Schema keyword of a request schema is enforced.
pub struct Keyword {
    pub name: &'static str,
    /// Whether a value can break it (false for annotations).
    pub rejects: bool,
    pub how: &'static str,
}

const SCHEMA_CHECK: &str = "the schema check before the request is read (a 400 naming the field)";

/// Every keyword the specs may use in a request schema, and how keyward
/// enforces it. `tests/it/rules.rs` walks every request schema of both specs
/// and fails on a keyword this table does not list.
pub const REQUEST_KEYWORDS: &[Keyword] = &[
    Keyword {
        name: "type",
        rejects: true,
        how: "the schema check: an array where an object is asked for, or text where an integer is, is a 400; query and path values are read as their parameter's type first",
    },
    Keyword {
        name: "properties",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "items",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "required",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "nullable",
        rejects: true,
        how: "converted to a null type (codegen/openapi.rs), so null is a 400 wherever the schema does not admit it; an optional nullable body field keeps null (clear it) apart from absent (leave it)",
    },
    Keyword {
        name: "minLength",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "maxLength",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "pattern",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "minimum",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "maximum",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "exclusiveMinimum",
        rejects: true,
        how: "converted from OpenAPI 3.0's boolean to a bound (codegen/openapi.rs), then the schema check",
    },
    Keyword {
        name: "exclusiveMaximum",
        rejects: true,
        how: "converted from OpenAPI 3.0's boolean to a bound (codegen/openapi.rs), then the schema check",
    },
    Keyword {
        name: "minItems",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "maxItems",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "uniqueItems",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "enum",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "additionalProperties",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "anyOf",
        rejects: true,
        how: "the schema check; an anyOf with a member that takes any value takes any value (codegen/openapi.rs)",
    },
    Keyword {
        name: "oneOf",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "allOf",
        rejects: true,
        how: SCHEMA_CHECK,
    },
    Keyword {
        name: "format",
        rejects: true,
        how: "int32 and int64 only: the width of the generated integer, so a larger value is a 400; the test fails on any other format in a request",
    },
    Keyword {
        name: "default",
        rejects: false,
        how: "applied by the generated type when the field is absent",
    },
    Keyword {
        name: "description",
        rejects: false,
        how: "annotation",
    },
    Keyword {
        name: "title",
        rejects: false,
        how: "annotation",
    },
    Keyword {
        name: "example",
        rejects: false,
        how: "annotation",
    },
    Keyword {
        name: "externalDocs",
        rejects: false,
        how: "annotation",
    },
    Keyword {
        name: "deprecated",
        rejects: false,
        how: "annotation: a deprecated field is still read",
    },
];

/// Implemented by the generator for every request type of a spec.
pub trait RequestRules {
    fn rules() -> &'static Rules;
}

/// One overlaid spec, as served, with its component schemas in JSON Schema.
pub struct Document {
    pub served: Value,
    components: Value,
}

impl Document {
    /// Parses a document the generator wrote; `cell` keeps it for the life
    /// of the process.
    pub fn load(
        cell: &'static OnceLock<Result<Document, String>>,
        text: &str,
    ) -> &'static Result<Document, String> {
        cell.get_or_init(|| {
            let served: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let normalized = openapi::normalize(&served)?;
            let components = json!({
                "schemas": Value::Object(openapi::component_json_schemas(&normalized.spec))
            });
            Ok(Document { served, components })
        })
    }
}

/// Whether `schema` is an object whose properties are all text with no rule
/// but the type: only annotations beside it.
fn any_text(schema: &Value) -> bool {
    let only = |schema: &Value, allowed: &[&str]| {
        schema
            .as_object()
            .is_some_and(|keys| keys.keys().all(|key| allowed.contains(&key.as_str())))
    };
    let annotations = ["type", "description", "title", "example"];
    only(
        schema,
        &["type", "properties", "required", "description", "title"],
    ) && schema["type"] == "object"
        && schema["properties"].as_object().is_some_and(|properties| {
            properties
                .values()
                .all(|property| only(property, &annotations) && property["type"] == "string")
        })
}

/// The compiled schema of one request type.
pub struct Rules {
    validator: Result<jsonschema::Validator<InPlace>, String>,
    /// Each parameter of a query or path schema: its JSON type (values
    /// arrive as text), and whether an empty value means "not given".
    parameters: BTreeMap<String, Parameter>,
    /// Whether every property is text without a rule, so that any text
    /// keeps the schema (see [`Rules::takes_any_text`]).
    any_text: bool,
}

struct Parameter {
    json_type: String,
    allow_empty: bool,
}

/// Where a request value came from, for messages.
#[derive(Clone, Copy)]
pub enum Part {
    Body,
    Query,
    Path,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Body => "the request body",
            Part::Query => "the query",
            Part::Path => "the path",
        }
    }
}

impl Rules {
    /// Compiles the component schema `name` of `document`.
    pub fn compile(document: &Result<Document, String>, name: &str) -> Rules {
        let document = match document {
            Ok(document) => document,
            Err(e) => {
                return Rules {
                    validator: Err(e.clone()),
                    parameters: BTreeMap::new(),
                    any_text: false,
                };
            }
        };
        let root = json!({
            "$ref": format!("#/components/schemas/{name}"),
            "components": document.components,
        });
        let validator = jsonschema::options_for::<InPlace>()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map_err(|e| format!("the request schema {name} does not compile: {e}"));
        let schema = &document.components["schemas"][name];
        let properties = schema["properties"].as_object();
        let parameters = properties
            .into_iter()
            .flatten()
            .map(|(parameter, schema)| {
                let rules = Parameter {
                    json_type: json_type(schema),
                    allow_empty: schema["allowEmptyValue"] == true,
                };
                (parameter.clone(), rules)
            })
            .collect();
        Rules {
            validator,
            parameters,
            any_text: any_text(schema),
        }
    }

    /// Whether any object of text properties keeps the schema: path
    /// parameters, which dropshot has read as text, then need no check
    /// (writing them out as JSON to check was ~5% of a Sinch GET).
    pub fn takes_any_text(&self) -> bool {
        self.any_text
    }

    /// Whether the schema compiled: checked for every type at start-up.
    pub fn ready(&self) -> Result<(), String> {
        self.validator.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Checks a JSON body as sent: any JSON first, then the schema.
    pub fn check_body<'a>(&self, bytes: &'a [u8]) -> Result<Parsed<'a>, HttpError> {
        let body = Instance::parse(bytes).map_err(|e| {
            HttpError::for_bad_request(None, format!("unable to parse JSON body: {e}"))
        })?;
        self.check_instance(&body.instance, Part::Body)?;
        Ok(body)
    }

    /// Checks `value` against the schema: a 400 naming the field and the
    /// rule it broke, without repeating the value.
    pub fn check(&self, value: &Value, part: Part) -> Result<(), HttpError> {
        self.check_instance(&Instance::of(value), part)
    }

    fn check_instance(&self, value: &Instance<'_>, part: Part) -> Result<(), HttpError> {
        let validator = self
            .validator
            .as_ref()
            .map_err(|e| HttpError::for_internal_error(e.clone()))?;
        if validator.is_valid(value) {
            return Ok(());
        }
        match validator.validate(value) {
            Ok(()) => Ok(()),
            Err(error) => Err(HttpError::for_bad_request(None, describe(&error, part))),
        }
    }

    /// Query parameters as a JSON object, each value read as its schema's
    /// type. A value that does not read as that type stays text, so that
    /// [`Rules::check`] names it. An empty value of a parameter with
    /// `allowEmptyValue` counts as not given.
    pub fn parameters<'a>(
        &self,
        pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    ) -> Result<Value, HttpError> {
        let mut object = Map::new();
        for (name, text) in pairs {
            let parameter = self.parameters.get(name.as_ref());
            if text.is_empty() && parameter.is_some_and(|p| p.allow_empty) {
                continue;
            }
            let kind = parameter.map_or("string", |p| p.json_type.as_str());
            let value = match kind {
                "integer" => text.parse::<i64>().map(Value::from).ok(),
                "number" => text.parse::<f64>().ok().map(Value::from),
                "boolean" => text.parse::<bool>().ok().map(Value::from),
                _ => None,
            }
            .unwrap_or_else(|| Value::String(text.into_owned()));
            if object.insert(name.to_string(), value).is_some() {
                return Err(HttpError::for_bad_request(
                    None,
                    format!("the parameter {name} is given more than once"),
                ));
            }
        }
        Ok(Value::Object(object))
    }
}

/// The first type a schema names other than null, or `string`.
fn json_type(schema: &Value) -> String {
    match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string")
            .to_string(),
        _ => "string".to_string(),
    }
}

/// `ratelimit.cost`, `[3].hash.value`, or the part itself at the root.
fn field_name(location: &jsonschema::paths::Location, part: Part) -> String {
    let mut name = String::new();
    for segment in location.as_str().split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            name.push_str(&format!("[{segment}]"));
        } else {
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(&segment);
        }
    }
    if name.is_empty() {
        part.name().to_string()
    } else {
        name
    }
}

/// A message for the first broken rule. A nullable or composite schema
/// fails as a whole (`anyOf`); the reason is in the branch that is not
/// `null`.
fn describe(error: &jsonschema::ValidationError<'_>, part: Part) -> String {
    use jsonschema::error::{TypeKind, ValidationErrorKind as Kind};
    match error.kind() {
        Kind::AnyOf { context } | Kind::OneOfNotValid { context } => {
            let not_null = context
                .iter()
                .filter_map(|branch| branch.first())
                .find(|e| {
                    !matches!(
                        e.kind(),
                        Kind::Type {
                            kind: TypeKind::Single(jsonschema::JsonType::Null)
                        }
                    )
                });
            match not_null {
                Some(inner) => describe(inner, part),
                None => error
                    .masked_with(field_name(error.instance_path(), part))
                    .to_string(),
            }
        }
        Kind::Type { .. } if error.instance().is_null() => {
            format!(
                "{} must not be null",
                field_name(error.instance_path(), part)
            )
        }
        Kind::Required { .. } if !error.instance_path().as_str().is_empty() => format!(
            "{}: {}",
            field_name(error.instance_path(), part),
            error.masked()
        ),
        _ => error
            .masked_with(field_name(error.instance_path(), part))
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{RequestRules, any_text};
    use crate::generated::{sinch_access_keys, unkey};
    use serde_json::json;

    #[test]
    fn only_text_without_rules_takes_any_text() {
        let with = |property| json!({"type": "object", "properties": {"id": property}, "required": ["id"]});
        assert!(any_text(&with(
            json!({"type": "string", "description": "an id"})
        )));
        for ruled in [
            json!({"type": "string", "minLength": 1}),
            json!({"type": "string", "pattern": "^a"}),
            json!({"type": "string", "format": "uuid"}),
            json!({"type": "string", "enum": ["a"]}),
            json!({"type": "integer"}),
        ] {
            assert!(!any_text(&with(ruled.clone())), "{ruled}");
        }
        assert!(!any_text(&json!({"type": "object"})));
        // Sinch's path parameters are plain text; Unkey's api id is not empty.
        assert!(
            sinch_access_keys::types::AccessKeyServiceGetAccessKeyPath::rules().takes_any_text()
        );
        assert!(!unkey::types::GetApisApiIdKeysPath::rules().takes_any_text());
    }
}
