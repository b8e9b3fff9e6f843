//! JSON Schema written the way pydantic (and so FastAPI) writes it.
//!
//! schemars and pydantic both emit valid JSON Schema 2020-12, but in
//! different words, and client generators and teams diffing documents care
//! about the words. schemars' output is rewritten into pydantic's:
//!
//! | schemars | pydantic / FastAPI |
//! |---|---|
//! | `true` / `false` as a schema (e.g. `serde_json::Value`) | `{}` / `{"not": {}}` (openapi-python-client cannot parse boolean schemas) |
//! | `"type": ["string", "null"]` | `"anyOf": [{"type": "string"}, {"type": "null"}]` |
//! | `"format": "double"`, `"int64"`, `"uint32"`, ... on numbers | no format |
//! | no titles | `"title"` on every model (its name) and property (`full_name` → `Full Name`) |
//!
//! `additionalProperties: true/false` stays a boolean: pydantic writes it so
//! (`dict[str, Any]`, `extra="forbid"`).

use serde_json::{Map, Value, json};

/// Python's `str.title()` of `name` with `_` as spaces: how pydantic titles
/// a field (`full_name` → `Full Name`, `x-token` → `X-Token`, `item_id` →
/// `Item Id`).
pub(crate) fn python_title(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut after_letter = false;
    for c in name.chars() {
        if c.is_alphabetic() {
            if after_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            after_letter = true;
        } else {
            out.push(if c == '_' { ' ' } else { c });
            after_letter = false;
        }
    }
    out.trim().to_owned()
}

/// Keywords whose value is one schema.
const SCHEMA_KEYWORDS: &[&str] = &[
    "items",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "additionalItems",
];

/// Keywords whose value is a list of schemas.
const SCHEMA_LIST_KEYWORDS: &[&str] = &["anyOf", "oneOf", "allOf", "prefixItems"];

/// Keywords whose value maps names to schemas.
const SCHEMA_MAP_KEYWORDS: &[&str] = &["properties", "patternProperties", "$defs", "definitions"];

/// Number formats schemars adds and pydantic never writes.
const NUMBER_FORMATS: &[&str] = &[
    "int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32", "uint64",
    "uint128", "float", "double",
];

/// Keywords describing a schema rather than constraining its value: they
/// stay outside the `anyOf` when `type: [T, "null"]` is split.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Rewrites `schema` (and every schema inside it) into pydantic's words.
pub(crate) fn normalize(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => *schema = json!({"not": {}}),
        Value::Object(map) => {
            normalize_object(map);
        }
        _ => {}
    }
}

fn normalize_object(map: &mut Map<String, Value>) {
    for key in SCHEMA_KEYWORDS {
        if let Some(sub) = map.get_mut(*key) {
            normalize(sub);
        }
    }
    if let Some(Value::Object(extra)) = map.get_mut("additionalProperties") {
        normalize_object(extra);
    }
    for key in SCHEMA_LIST_KEYWORDS {
        if let Some(Value::Array(list)) = map.get_mut(*key) {
            list.iter_mut().for_each(normalize);
        }
    }
    for key in SCHEMA_MAP_KEYWORDS {
        if let Some(Value::Object(members)) = map.get_mut(*key) {
            members.values_mut().for_each(normalize);
        }
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            if let Value::Object(p) = property
                && !p.contains_key("title")
                && !p.contains_key("$ref")
            {
                p.insert("title".into(), python_title(name).into());
            }
        }
    }
    strip_number_format(map);
    split_nullable_type(map);
    integer_keys_as_additional_properties(map);
}

/// schemars describes `HashMap<i64, V>` as `additionalProperties: false`
/// plus `patternProperties: {"^-?\\d+$": V}`; pydantic writes
/// `dict[int, V]` as `additionalProperties: V`.
fn integer_keys_as_additional_properties(map: &mut Map<String, Value>) {
    let Some(Value::Object(patterns)) = map.get("patternProperties") else {
        return;
    };
    if patterns.len() != 1 || map.get("additionalProperties") != Some(&Value::Bool(false)) {
        return;
    }
    let Some((pattern, value)) = patterns.iter().next() else {
        return;
    };
    if pattern != r"^-?\d+$" && pattern != r"^\d+$" {
        return;
    }
    let value = value.clone();
    map.remove("patternProperties");
    map.insert("additionalProperties".into(), value);
}

fn strip_number_format(map: &mut Map<String, Value>) {
    let is_number_format = map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| NUMBER_FORMATS.contains(&f));
    if is_number_format {
        map.remove("format");
    }
}

/// `{"type": ["number", "null"], "minimum": 0, "title": "Tax"}` →
/// `{"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}], "title": "Tax"}`.
fn split_nullable_type(map: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = map.get("type") else {
        return;
    };
    let others: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
    if others.len() == types.len() {
        return; // no null
    }
    let mut branch = Map::new();
    for (key, value) in std::mem::take(map) {
        if ANNOTATIONS.contains(&key.as_str()) {
            map.insert(key, value);
        } else {
            branch.insert(key, value);
        }
    }
    branch.insert(
        "type".into(),
        match others.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(others),
        },
    );
    // pydantic lists the alternatives first, then the annotations.
    let annotations = std::mem::take(map);
    map.insert(
        "anyOf".into(),
        json!([Value::Object(branch), {"type": "null"}]),
    );
    map.extend(annotations);
}

/// Gives a named model its title, as pydantic does (the class name).
pub(crate) fn title_component(name: &str, schema: &mut Value) {
    if let Value::Object(map) = schema
        && !map.contains_key("title")
    {
        map.insert("title".into(), name.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_like_python() {
        assert_eq!(python_title("full_name"), "Full Name");
        assert_eq!(python_title("x-token"), "X-Token");
        assert_eq!(python_title("X-API-Key"), "X-Api-Key");
        assert_eq!(python_title("item_id"), "Item Id");
        assert_eq!(python_title("q"), "Q");
        assert_eq!(python_title("file2name"), "File2Name");
    }

    #[test]
    fn rewrites_schemars_words_into_pydantic_ones() {
        let mut schema = json!({
            "type": "object",
            "properties": {
                "tax": {"type": ["number", "null"], "format": "double", "minimum": 0},
                "extra": true,
                "tags": {"type": "array", "items": {"type": "integer", "format": "int64"}},
                "owner": {"$ref": "#/components/schemas/User"}
            },
            "additionalProperties": false
        });
        normalize(&mut schema);
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "tax": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}], "title": "Tax"},
                    "extra": {"title": "Extra"},
                    "tags": {"type": "array", "items": {"type": "integer"}, "title": "Tags"},
                    "owner": {"$ref": "#/components/schemas/User"}
                },
                "additionalProperties": false
            })
        );
        let mut any = Value::Bool(true);
        normalize(&mut any);
        assert_eq!(any, json!({}));
    }
}
