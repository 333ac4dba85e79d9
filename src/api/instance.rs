//! A request value as the schema check reads it: a tree that borrows its
//! strings from the request's bytes.
//!
//! Reading a body into a `serde_json::Value` first (a hashed, insertion-ordered
//! map and an owned copy of every key and string) cost more than the check
//! itself: ~3 µs of CPU per `ratelimits.limit` request on the bench machine.
//! This tree costs one allocation per object or array, and jsonschema checks
//! it in place through its custom-representation traits. A body that passes
//! is then read into its type from the same tree, not from the text again.

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object, cmp};
use serde::de::value::{MapAccessDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{
    self, Deserialize, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer,
    MapAccess, SeqAccess, Visitor,
};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

/// One JSON value. An object keeps its members in the order they were sent;
/// a repeated name keeps its first place and its last value, as in
/// `serde_json::Value`.
#[derive(Debug, Default)]
pub enum Instance<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Instance<'a>>),
    Object(Vec<(Cow<'a, str>, Instance<'a>)>),
}

/// A body read as sent, and whether a name repeated in one of its objects
/// (then its type reads the text, where a struct's field given twice is an
/// error).
#[derive(Debug)]
pub struct Parsed<'a> {
    pub instance: Instance<'a>,
    pub repeated_names: bool,
}

impl<'a> Instance<'a> {
    /// Reads JSON text; strings without escapes stay in `bytes`.
    pub fn parse(bytes: &'a [u8]) -> serde_json::Result<Parsed<'a>> {
        let repeated_names = Cell::new(false);
        let mut text = serde_json::Deserializer::from_slice(bytes);
        let instance = InstanceSeed(&repeated_names).deserialize(&mut text)?;
        text.end()?;
        Ok(Parsed {
            instance,
            repeated_names: repeated_names.get(),
        })
    }

    /// Reads `T` from the tree, without parsing the text again.
    pub fn read<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        T::deserialize(self)
    }

    /// A view of a value built elsewhere (query and path parameters).
    pub fn of(value: &'a Value) -> Instance<'a> {
        match value {
            Value::Null => Instance::Null,
            Value::Bool(b) => Instance::Bool(*b),
            Value::Number(n) => Instance::Number(n.clone()),
            Value::String(s) => Instance::String(Cow::Borrowed(s)),
            Value::Array(items) => Instance::Array(items.iter().map(Instance::of).collect()),
            Value::Object(members) => Instance::Object(
                members
                    .iter()
                    .map(|(name, value)| (Cow::Borrowed(name.as_str()), Instance::of(value)))
                    .collect(),
            ),
        }
    }

    /// The same value as a `serde_json::Value`, for jsonschema's `enum` and
    /// `const` comparisons and its error messages.
    fn to_value(&self) -> Value {
        match self {
            Instance::Null => Value::Null,
            Instance::Bool(b) => Value::Bool(*b),
            Instance::Number(n) => Value::Number(n.clone()),
            Instance::String(s) => Value::String(s.to_string()),
            Instance::Array(items) => Value::Array(items.iter().map(Instance::to_value).collect()),
            Instance::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Reads one value; notes in the cell when a name repeats in an object.
#[derive(Clone, Copy)]
struct InstanceSeed<'s>(&'s Cell<bool>);

impl<'de> DeserializeSeed<'de> for InstanceSeed<'_> {
    type Value = Instance<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Instance<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for InstanceSeed<'_> {
    type Value = Instance<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Instance::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Instance::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Instance::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // What `serde_json::Value` does with a float JSON cannot hold.
        Ok(Number::from_f64(v).map_or(Instance::Null, Instance::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Instance::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Instance::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Instance::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Instance::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Instance::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Instance::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = ObjectBuilder::default();
        while let Some(MemberName(name)) = map.next_key()? {
            if object.insert(name, map.next_value_seed(self)?) {
                self.0.set(true);
            }
        }
        Ok(Instance::Object(object.members))
    }
}

/// An object's members with each name once. Small objects (every request
/// body keyward serves) find a repeated name by scanning; past
/// [`ObjectBuilder::SCAN`] members an index keeps a hostile body linear.
#[derive(Default)]
struct ObjectBuilder<'a> {
    members: Vec<(Cow<'a, str>, Instance<'a>)>,
    index: Option<HashMap<Cow<'a, str>, usize>>,
}

impl<'a> ObjectBuilder<'a> {
    const SCAN: usize = 16;

    /// Adds a member; true if its name was there already.
    fn insert(&mut self, name: Cow<'a, str>, value: Instance<'a>) -> bool {
        let repeated = match &self.index {
            Some(index) => index.get(name.as_ref()).copied(),
            None => self.members.iter().position(|(seen, _)| *seen == name),
        };
        if let Some(position) = repeated {
            self.members[position].1 = value;
            return true;
        }
        if let Some(index) = &mut self.index {
            index.insert(name.clone(), self.members.len());
        }
        self.members.push((name, value));
        if self.index.is_none() && self.members.len() > Self::SCAN {
            let names = self.members.iter().map(|(name, _)| name.clone());
            self.index = Some(names.zip(0..).collect());
        }
        false
    }
}

/// A member name, borrowed when it has no escapes (serde reads a plain
/// `Cow<str>` as owned).
struct MemberName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = MemberName<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// `T` read from the tree, as `serde_json` reads it from a `&Value`.
impl<'de, 'a: 'de> Deserializer<'de> for &'de Instance<'a> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        match self {
            Instance::Null => visitor.visit_unit(),
            Instance::Bool(b) => visitor.visit_bool(*b),
            Instance::Number(n) => n.deserialize_any(visitor),
            Instance::String(s) => visitor.visit_borrowed_str(s),
            Instance::Array(items) => {
                let mut items = SeqDeserializer::new(items.iter());
                let value = visitor.visit_seq(&mut items)?;
                items.end()?;
                Ok(value)
            }
            Instance::Object(members) => {
                let mut members = MapDeserializer::new(members.iter().map(entry));
                let value = visitor.visit_map(&mut members)?;
                members.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        match self {
            Instance::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> serde_json::Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant is its name; any other is an object with one member.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> serde_json::Result<V::Value> {
        match self {
            Instance::String(s) => visitor.visit_enum(s.as_ref().into_deserializer()),
            Instance::Object(members) if members.len() == 1 => {
                let members = MapDeserializer::new(members.iter().map(entry));
                visitor.visit_enum(MapAccessDeserializer::new(members))
            }
            _ => Err(de::Error::invalid_type(
                de::Unexpected::Other("JSON value"),
                &visitor,
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

impl<'de, 'a: 'de> IntoDeserializer<'de, serde_json::Error> for &'de Instance<'a> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

fn entry<'de>((name, value): &'de (Cow<'_, str>, Instance<'_>)) -> (&'de str, &'de Instance<'de>) {
    (name.as_ref(), value)
}

/// The representation jsonschema validates: [`Instance`] in place.
pub struct InPlace;

impl Json for InPlace {
    type Node<'a> = &'a Instance<'a>;
    type PreparedKey = String;
    type StringBuffer = Instance<'static>;

    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Instance<'static>,
        string: &str,
        f: impl FnOnce(<Self as Json>::Node<'_>) -> T,
    ) -> T {
        *buffer = Instance::String(Cow::Owned(string.to_owned()));
        f(buffer)
    }
}

impl<'a> Node<'a, InPlace> for &'a Instance<'a> {
    type Object = &'a [(Cow<'a, str>, Instance<'a>)];
    type Array = &'a [Instance<'a>];
    type Number = &'a Number;

    fn as_object(&self) -> Option<Self::Object> {
        match self {
            Instance::Object(members) => Some(members),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<Self::Array> {
        match self {
            Instance::Array(items) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self {
            Instance::String(s) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&'a Number> {
        match self {
            Instance::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self {
            Instance::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Instance::Null)
    }

    fn json_type(&self) -> JsonType {
        match self {
            Instance::Null => JsonType::Null,
            Instance::Bool(_) => JsonType::Boolean,
            Instance::Number(_) => JsonType::Number,
            Instance::String(_) => JsonType::String,
            Instance::Array(_) => JsonType::Array,
            Instance::Object(_) => JsonType::Object,
        }
    }

    fn equals_value(&self, expected: &Value) -> bool {
        match (self, expected) {
            // `enum` of strings, the common case, without building a value.
            (Instance::String(s), Value::String(e)) => s == e,
            (Instance::String(_), _) => false,
            _ => cmp::equal(&self.to_value(), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(Instance::to_value(self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(
            std::ptr::from_ref::<Instance>(*self) as usize
        ))
    }
}

impl<'a> Object<'a, InPlace> for &'a [(Cow<'a, str>, Instance<'a>)] {
    type Node = &'a Instance<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Instance<'a>> {
        self.iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    fn members(&self) -> Members<'a> {
        Members(self.iter())
    }
}

pub struct Members<'a>(std::slice::Iter<'a, (Cow<'a, str>, Instance<'a>)>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Instance<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(name, value)| (name.as_ref(), value))
    }
}

impl<'a> Array<'a, InPlace> for &'a [Instance<'a>] {
    type Node = &'a Instance<'a>;
    type ElementsIter = std::slice::Iter<'a, Instance<'a>>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn elements(&self) -> Self::ElementsIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::Instance;
    use serde::Deserialize;
    use serde_json::{Map, Value};

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: String,
        #[serde(default)]
        count: Option<i64>,
        ratio: Option<f64>,
        interval: Option<Interval>,
        #[serde(default)]
        tags: Vec<String>,
        meta: Option<Map<String, Value>>,
        either: Option<Either>,
        shape: Option<Shape>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Interval {
        Daily,
        Monthly,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u32),
        Text(String),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Shape {
        Circle { r: u8 },
        Square(u8),
    }

    /// Reading the checked tree gives what reading the text gives: the same
    /// value, or an error for the same bodies.
    #[test]
    fn a_type_read_from_the_tree_is_the_one_read_from_the_text() {
        let bodies = [
            r#"{"name":"a"}"#,
            r#"{"name":"a\"b\u00e9","count":3,"ratio":2,"interval":"daily"}"#,
            r#"{"name":"a","count":null,"ratio":null,"meta":{"z":1,"a":[true,null,{"b":"c"}]}}"#,
            r#"{"name":"a","tags":["x","y"],"either":7,"shape":{"Circle":{"r":2}}}"#,
            r#"{"name":"a","either":"seven","shape":{"Square":3}}"#,
            r#"["a"]"#,
            r#"{"name":1}"#,
            r#"{"name":"a","count":1.5}"#,
            r#"{"name":"a","count":1e2}"#,
            r#"{"name":"a","count":9223372036854775808}"#,
            r#"{"name":"a","interval":"weekly"}"#,
            r#"{"name":"a","interval":1}"#,
            r#"{"name":"a","either":-1}"#,
            r#"{"name":"a","shape":{"Circle":{"r":2},"Square":3}}"#,
            r#"{"name":"a","shape":"Circle"}"#,
            r#"{"name":"a","other":1}"#,
            r#"{"count":1}"#,
            r#"null"#,
        ];
        for body in bodies {
            let parsed = Instance::parse(body.as_bytes()).unwrap();
            assert!(!parsed.repeated_names, "{body}");
            let from_tree = parsed.instance.read::<Body>();
            let from_text = serde_json::from_str::<Body>(body);
            match (from_tree, from_text) {
                (Ok(tree), Ok(text)) => assert_eq!(tree, text, "{body}"),
                (Err(_), Err(_)) => {}
                (tree, text) => panic!("{body}: from the tree {tree:?}, from the text {text:?}"),
            }
        }
    }

    #[test]
    fn a_repeated_name_keeps_its_place_and_its_last_value() {
        let parsed = Instance::parse(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert!(parsed.repeated_names);
        let value: Value = parsed.instance.read().unwrap();
        assert_eq!(value.to_string(), r#"{"a":3,"b":2}"#);
        let nested = Instance::parse(br#"[{"x":{"y":1,"y":2}}]"#).unwrap();
        assert!(nested.repeated_names);
        assert!(
            !Instance::parse(br#"[{"y":1},{"y":2}]"#)
                .unwrap()
                .repeated_names
        );
    }
}
