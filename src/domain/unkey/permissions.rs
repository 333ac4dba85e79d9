//! Permission queries: `"p"`, `{"and": [...]}` and `{"or": [...]}`, each with
//! at least one member. Root-key checks and verifyKey's `authorization` both
//! use them. Permissions match by exact string equality; `*` is a permission
//! like any other, which the route queries name explicitly.

use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Permission(String),
    And(Vec<Query>),
    Or(Vec<Query>),
}

impl Query {
    /// Any one of these permissions.
    pub fn any_of<S: Into<String>>(permissions: impl IntoIterator<Item = S>) -> Query {
        Query::Or(
            permissions
                .into_iter()
                .map(|p| Query::Permission(p.into()))
                .collect(),
        )
    }

    /// Parses a query given as JSON.
    pub fn parse(value: &Value) -> Result<Query, String> {
        match value {
            Value::String(p) if !p.is_empty() => Ok(Query::Permission(p.clone())),
            Value::Object(map) if map.len() == 1 => {
                let (op, members) = map.iter().next().ok_or("an empty query")?;
                let members = members
                    .as_array()
                    .filter(|m| !m.is_empty())
                    .ok_or_else(|| format!("`{op}` takes a non-empty array"))?
                    .iter()
                    .map(Query::parse)
                    .collect::<Result<Vec<_>, _>>()?;
                match op.as_str() {
                    "and" => Ok(Query::And(members)),
                    "or" => Ok(Query::Or(members)),
                    other => Err(format!("unknown operator `{other}`; use `and` or `or`")),
                }
            }
            other => Err(format!(
                "expected a permission name, {{\"and\":[…]}} or {{\"or\":[…]}}, got {other}"
            )),
        }
    }

    /// Whether the permissions for which `granted` answers yes satisfy the query.
    pub fn allows(&self, granted: &impl Fn(&str) -> bool) -> bool {
        match self {
            Query::Permission(p) => granted(p),
            Query::And(members) => members.iter().all(|m| m.allows(granted)),
            Query::Or(members) => members.iter().any(|m| m.allows(granted)),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, members: &[Query], word: &str| {
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                match member {
                    Query::And(nested) | Query::Or(nested) if nested.len() > 1 => {
                        write!(f, "({member})")?
                    }
                    simple => write!(f, "{simple}")?,
                }
            }
            Ok(())
        };
        match self {
            Query::Permission(p) => write!(f, "{p}"),
            Query::And(members) | Query::Or(members) if members.len() == 1 => {
                write!(f, "{}", members[0])
            }
            Query::And(members) => join(f, members, "and"),
            Query::Or(members) => join(f, members, "or"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds<'a>(granted: &'a [&'a str]) -> impl Fn(&str) -> bool + 'a {
        move |p| granted.contains(&p)
    }

    #[test]
    fn queries_parse_and_evaluate() {
        let query =
            Query::parse(&json!({"or": [{"and": ["dns.read", "dns.update"]}, "admin"]})).unwrap();
        assert!(query.allows(&holds(&["admin"])));
        assert!(query.allows(&holds(&["dns.read", "dns.update"])));
        assert!(!query.allows(&holds(&["dns.read"])));
        assert!(Query::parse(&json!("p1")).unwrap().allows(&holds(&["p1"])));
        assert!(
            !Query::parse(&json!("p1"))
                .unwrap()
                .allows(&holds(&["p2", "*"]))
        );
        assert_eq!(query.to_string(), "(dns.read and dns.update) or admin");
    }

    #[test]
    fn invalid_queries_are_refused() {
        for invalid in [
            json!({}),
            json!({"and": []}),
            json!({"and": ["p", {}]}),
            json!(3),
            json!(""),
            json!({"not": ["p"]}),
        ] {
            assert!(Query::parse(&invalid).is_err(), "{invalid}");
        }
    }
}
