//! Validating a JSON body against its JSON Schema the way pydantic does.
//!
//! serde stops at the first problem and words it its own way. When a body
//! does not deserialise, brisk walks the parsed JSON alongside the type's
//! schemars schema and reports every problem with pydantic's `type`, `loc`,
//! `msg` and `input`, and applies pydantic's lax coercions (`"3"` for an
//! integer, `true` for a number) so that bodies FastAPI accepts are accepted
//! here too. The walk also enforces constraints that only the schema carries
//! (`#[schemars(range(min = 1), length(max = 50), regex(pattern = ...))]`).
//!
//! Only the schema keywords schemars emits for plain data types are
//! understood; anything else (`oneOf` of tagged enums, ...) is left to serde.

use serde_json::{Map, Value};

use super::scalar::{BOOL_PARSING, FLOAT_PARSING, INT_PARSING, expected_list, parse_bool};
use crate::error::{ErrorItem, LocPart};

/// Validates `value` in place against `schema` (whose `$defs` are in `root`).
pub(crate) fn validate(
    root: &Value,
    schema: &Value,
    value: &mut Value,
    loc: &mut Vec<LocPart>,
    errors: &mut Vec<ErrorItem>,
) {
    let Some(schema) = resolve(root, schema) else {
        return;
    };
    let Some(obj) = schema.as_object() else {
        return;
    };

    if let Some(branches) = obj.get("anyOf").and_then(Value::as_array) {
        let nullable = branches.iter().any(is_null_schema);
        if value.is_null() && nullable {
            return;
        }
        let non_null: Vec<&Value> = branches.iter().filter(|b| !is_null_schema(b)).collect();
        if let [only] = non_null.as_slice() {
            validate(root, only, value, loc, errors);
        }
        return;
    }

    let types = type_names(obj);
    if value.is_null() && types.contains(&"null") {
        return;
    }
    let primary = types.iter().copied().find(|t| *t != "null");
    match primary {
        Some("string") => string(obj, value, loc, errors),
        Some("integer") => integer(obj, value, loc, errors),
        Some("number") => number(obj, value, loc, errors),
        Some("boolean") => boolean(value, loc, errors),
        Some("array") => array(root, obj, value, loc, errors),
        Some("object") => object(root, obj, value, loc, errors),
        _ => {}
    }
}

/// Whether the schema has constraints serde does not check by itself, so the
/// fast path (serde alone) would miss them.
pub(crate) fn has_constraints(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.iter().any(|(k, v)| {
            let keyword = matches!(
                k.as_str(),
                "minLength"
                    | "maxLength"
                    | "pattern"
                    | "exclusiveMinimum"
                    | "exclusiveMaximum"
                    | "minItems"
                    | "maxItems"
                    | "enum"
            ) || (matches!(k.as_str(), "minimum" | "maximum") && !is_int_range(map));
            keyword || has_constraints(v)
        }),
        Value::Array(items) => items.iter().any(has_constraints),
        _ => false,
    }
}

/// schemars puts `minimum: 0` (and the type's range) on unsigned integers;
/// serde enforces those already.
fn is_int_range(map: &Map<String, Value>) -> bool {
    map.get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| f.starts_with("int") || f.starts_with("uint"))
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let mut schema = schema;
    for _ in 0..32 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => schema = root.pointer(r.strip_prefix('#')?)?,
            None => return Some(schema),
        }
    }
    None
}

fn is_null_schema(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("null")
}

fn type_names(obj: &Map<String, Value>) -> Vec<&str> {
    match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn push(
    errors: &mut Vec<ErrorItem>,
    kind: &'static str,
    loc: &[LocPart],
    msg: impl Into<std::borrow::Cow<'static, str>>,
    input: &Value,
) {
    errors.push(ErrorItem::new(kind, loc.to_vec(), msg, input.clone()));
}

fn string(
    obj: &Map<String, Value>,
    value: &mut Value,
    loc: &mut [LocPart],
    errors: &mut Vec<ErrorItem>,
) {
    let Some(s) = value.as_str() else {
        return push(
            errors,
            "string_type",
            loc,
            "Input should be a valid string",
            value,
        );
    };
    if let Some(allowed) = obj.get("enum").and_then(Value::as_array) {
        if !allowed.iter().any(|a| a == value) {
            let expected = expected_list(allowed);
            errors.push(
                ErrorItem::new(
                    "enum",
                    loc.to_vec(),
                    format!("Input should be {expected}"),
                    value.clone(),
                )
                .with_ctx(serde_json::json!({ "expected": expected })),
            );
        }
        return;
    }
    let len = s.chars().count();
    if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
        && (len as u64) < min
    {
        let unit = if min == 1 { "character" } else { "characters" };
        errors.push(
            ErrorItem::new(
                "string_too_short",
                loc.to_vec(),
                format!("String should have at least {min} {unit}"),
                value.clone(),
            )
            .with_ctx(serde_json::json!({ "min_length": min })),
        );
        return;
    }
    if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
        && (len as u64) > max
    {
        let unit = if max == 1 { "character" } else { "characters" };
        errors.push(
            ErrorItem::new(
                "string_too_long",
                loc.to_vec(),
                format!("String should have at most {max} {unit}"),
                value.clone(),
            )
            .with_ctx(serde_json::json!({ "max_length": max })),
        );
        return;
    }
    if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
        // Patterns come from the application's own types; an invalid one is
        // reported once per request rather than panicking.
        match regex::Regex::new(pattern) {
            Ok(re) if !re.is_match(s) => errors.push(
                ErrorItem::new(
                    "string_pattern_mismatch",
                    loc.to_vec(),
                    format!("String should match pattern '{pattern}'"),
                    value.clone(),
                )
                .with_ctx(serde_json::json!({ "pattern": pattern })),
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(pattern, error = %e, "invalid pattern in a body schema"),
        }
    }
}

fn integer(
    obj: &Map<String, Value>,
    value: &mut Value,
    loc: &mut [LocPart],
    errors: &mut Vec<ErrorItem>,
) {
    let coerced = match &*value {
        Value::Number(n) if n.is_i64() || n.is_u64() => None,
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.is_finite() {
                Some(Value::from(f as i64))
            } else {
                return push(
                    errors,
                    "int_from_float",
                    loc,
                    "Input should be a valid integer, got a number with a fractional part",
                    value,
                );
            }
        }
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Some(Value::from(i)),
            Err(_) => {
                return push(
                    errors,
                    INT_PARSING.kind,
                    loc,
                    INT_PARSING.msg.clone(),
                    value,
                );
            }
        },
        Value::Bool(b) => Some(Value::from(*b as i64)),
        _ => {
            return push(
                errors,
                "int_type",
                loc,
                "Input should be a valid integer",
                value,
            );
        }
    };
    let original = value.clone();
    if let Some(c) = coerced {
        *value = c;
    }
    bounds(obj, value.as_f64().unwrap_or(0.0), &original, loc, errors);
}

fn number(
    obj: &Map<String, Value>,
    value: &mut Value,
    loc: &mut [LocPart],
    errors: &mut Vec<ErrorItem>,
) {
    let coerced = match &*value {
        Value::Number(_) => None,
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(f) if !s.contains('_') => Some(Value::from(f)),
            _ => {
                return push(
                    errors,
                    FLOAT_PARSING.kind,
                    loc,
                    FLOAT_PARSING.msg.clone(),
                    value,
                );
            }
        },
        Value::Bool(b) => Some(Value::from(if *b { 1.0 } else { 0.0 })),
        _ => {
            return push(
                errors,
                "float_type",
                loc,
                "Input should be a valid number",
                value,
            );
        }
    };
    let original = value.clone();
    if let Some(c) = coerced {
        *value = c;
    }
    bounds(obj, value.as_f64().unwrap_or(0.0), &original, loc, errors);
}

fn bounds(
    obj: &Map<String, Value>,
    v: f64,
    input: &Value,
    loc: &[LocPart],
    errors: &mut Vec<ErrorItem>,
) {
    type Check = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        fn(f64, f64) -> bool,
    );
    let checks: [Check; 4] = [
        (
            "exclusiveMinimum",
            "greater_than",
            "gt",
            "greater than",
            |v, b| v > b,
        ),
        (
            "minimum",
            "greater_than_equal",
            "ge",
            "greater than or equal to",
            |v, b| v >= b,
        ),
        (
            "exclusiveMaximum",
            "less_than",
            "lt",
            "less than",
            |v, b| v < b,
        ),
        (
            "maximum",
            "less_than_equal",
            "le",
            "less than or equal to",
            |v, b| v <= b,
        ),
    ];
    for (keyword, kind, key, words, ok) in checks {
        if let Some(bound) = obj.get(keyword).filter(|b| b.is_number())
            && !ok(v, bound.as_f64().unwrap_or(0.0))
        {
            errors.push(
                ErrorItem::new(
                    kind,
                    loc.to_vec(),
                    format!("Input should be {words} {bound}"),
                    input.clone(),
                )
                .with_ctx(serde_json::json!({ key: bound })),
            );
            return;
        }
    }
}

fn boolean(value: &mut Value, loc: &mut [LocPart], errors: &mut Vec<ErrorItem>) {
    let coerced = match &*value {
        Value::Bool(_) => return,
        Value::String(s) => parse_bool(s),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        _ => {
            return push(
                errors,
                "bool_type",
                loc,
                "Input should be a valid boolean",
                value,
            );
        }
    };
    match coerced {
        Some(b) => *value = Value::Bool(b),
        None => push(
            errors,
            BOOL_PARSING.kind,
            loc,
            BOOL_PARSING.msg.clone(),
            value,
        ),
    }
}

fn array(
    root: &Value,
    obj: &Map<String, Value>,
    value: &mut Value,
    loc: &mut Vec<LocPart>,
    errors: &mut Vec<ErrorItem>,
) {
    let Some(items) = value.as_array_mut() else {
        // A `HashSet`/`BTreeSet` (schemars: `uniqueItems`) is pydantic's `set`.
        if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
            return push(
                errors,
                "set_type",
                loc,
                "Input should be a valid set",
                value,
            );
        }
        return push(
            errors,
            "list_type",
            loc,
            "Input should be a valid list",
            value,
        );
    };
    let len = items.len() as u64;
    if let Some(item_schema) = obj.get("items") {
        for (i, item) in items.iter_mut().enumerate() {
            loc.push(LocPart::Index(i));
            validate(root, item_schema, item, loc, errors);
            loc.pop();
        }
    }
    if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
        && len < min
    {
        let unit = if min == 1 { "item" } else { "items" };
        errors.push(
            ErrorItem::new("too_short", loc.clone(), format!("List should have at least {min} {unit} after validation, not {len}"), value.clone())
                .with_ctx(serde_json::json!({ "field_type": "List", "min_length": min, "actual_length": len })),
        );
    } else if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
        && len > max
    {
        let unit = if max == 1 { "item" } else { "items" };
        errors.push(
            ErrorItem::new("too_long", loc.clone(), format!("List should have at most {max} {unit} after validation, not {len}"), value.clone())
                .with_ctx(serde_json::json!({ "field_type": "List", "max_length": max, "actual_length": len })),
        );
    }
}

fn object(
    root: &Value,
    obj: &Map<String, Value>,
    value: &mut Value,
    loc: &mut Vec<LocPart>,
    errors: &mut Vec<ErrorItem>,
) {
    let properties = obj.get("properties").and_then(Value::as_object);
    if !value.is_object() {
        return if properties.is_some() {
            push(
                errors,
                "model_attributes_type",
                loc,
                "Input should be a valid dictionary or object to extract fields from",
                value,
            )
        } else {
            push(
                errors,
                "dict_type",
                loc,
                "Input should be a valid dictionary",
                value,
            )
        };
    }
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = properties {
        for (name, prop_schema) in properties {
            let present = value.get(name).is_some();
            loc.push(LocPart::from(name.clone()));
            if present {
                if let Some(field) = value.get_mut(name) {
                    validate(root, prop_schema, field, loc, errors);
                }
            } else if required.contains(&name.as_str()) {
                errors.push(ErrorItem::missing(loc.clone(), value.clone()));
            }
            loc.pop();
        }
    } else if let Some(Value::Object(patterns)) = obj.get("patternProperties")
        && let Some(map) = value.as_object_mut()
    {
        // A map with integer keys (`HashMap<i64, f64>`): schemars gives the
        // keys a pattern; pydantic reports a bad key at `[..., key, "[key]"]`.
        for (key, field) in map.iter_mut() {
            loc.push(LocPart::from(key.clone()));
            match patterns.iter().find(|(p, _)| key_matches(p, key)) {
                Some((_, schema)) => validate(root, schema, field, loc, errors),
                None if patterns.keys().any(|p| is_integer_key_pattern(p)) => {
                    loc.push(LocPart::from("[key]"));
                    let key = Value::String(key.clone());
                    push(errors, INT_PARSING.kind, loc, INT_PARSING.msg.clone(), &key);
                    loc.pop();
                }
                None => {}
            }
            loc.pop();
        }
    } else if let Some(extra) = obj.get("additionalProperties").filter(|s| s.is_object())
        && let Some(map) = value.as_object_mut()
    {
        for (key, field) in map.iter_mut() {
            loc.push(LocPart::from(key.clone()));
            validate(root, extra, field, loc, errors);
            loc.pop();
        }
    }
}

/// schemars' key patterns for integer-keyed maps.
fn is_integer_key_pattern(pattern: &str) -> bool {
    matches!(pattern, r"^-?\d+$" | r"^\d+$")
}

/// Whether `key` matches a `patternProperties` pattern (integer patterns
/// are checked without a regex; others compiled on this slow path).
fn key_matches(pattern: &str, key: &str) -> bool {
    match pattern {
        r"^-?\d+$" => {
            let digits = key.strip_prefix('-').unwrap_or(key);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        r"^\d+$" => !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()),
        other => regex::Regex::new(other).is_ok_and(|re| re.is_match(key)),
    }
}
