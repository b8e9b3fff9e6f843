//! Scalar parameter values: parsing a string into a number, bool or string,
//! and checking the declared constraints, with pydantic's error types and
//! messages.

use serde_json::Value;

use super::{Bound, Location, ParamSpec};
use crate::error::{ErrorItem, LocPart};

/// Why a raw string is not a valid value: pydantic's error `type` and `msg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// The error type, e.g. `int_parsing`.
    pub kind: &'static str,
    /// The message, e.g. "Input should be a valid integer, unable to parse string as an integer".
    pub msg: &'static str,
}

pub(crate) const INT_PARSING: ParseError = ParseError {
    kind: "int_parsing",
    msg: "Input should be a valid integer, unable to parse string as an integer",
};
pub(crate) const FLOAT_PARSING: ParseError = ParseError {
    kind: "float_parsing",
    msg: "Input should be a valid number, unable to parse string as a number",
};
pub(crate) const BOOL_PARSING: ParseError = ParseError {
    kind: "bool_parsing",
    msg: "Input should be a valid boolean, unable to interpret input",
};

/// A value that can be read from one string: a path segment, a query value,
/// a header or a cookie.
///
/// Implemented for the integer types, `f32`, `f64`, `bool`, `String` and
/// `char`. Implement it for your own types (an enum of allowed values, say)
/// to use them as parameters.
///
/// ```
/// use brisk::params::ParamValue;
/// assert_eq!(u32::parse_param("42"), Ok(42));
/// assert!(u32::parse_param("abc").is_err());
/// assert_eq!(bool::parse_param("yes"), Ok(true));
/// ```
pub trait ParamValue: Sized + Send + 'static {
    /// Parses the raw (already percent-decoded) string.
    fn parse_param(raw: &str) -> Result<Self, ParseError>;

    /// Checks the declared constraints against the parsed value.
    fn check(&self, _spec: &ParamSpec) -> Option<ConstraintError> {
        None
    }

    /// The JSON Schema of the value (for OpenAPI).
    fn param_schema() -> Value;
}

/// A failed constraint: error type, message and `ctx`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintError {
    /// pydantic's error type, e.g. `greater_than_equal`.
    pub kind: &'static str,
    /// The message.
    pub msg: String,
    /// The `ctx` object, e.g. `{"ge": 1}`.
    pub ctx: Value,
}

/// Builds the error item for a value at `location` that failed to parse or validate.
pub(crate) fn parse_error_item(
    spec: &ParamSpec,
    location: Location,
    raw: &str,
    err: ParseError,
) -> ErrorItem {
    ErrorItem::new(err.kind, spec.loc(location), err.msg, Value::from(raw))
}

pub(crate) fn constraint_error_item(
    loc: Vec<LocPart>,
    input: Value,
    e: ConstraintError,
) -> ErrorItem {
    ErrorItem::new(e.kind, loc, e.msg, input).with_ctx(e.ctx)
}

/// Checks numeric bounds the way pydantic does. `as_float` decides how the
/// bound appears in `ctx`: pydantic converts it to the field's type, so a
/// float field reports `{"gt": 0.0}` and an int field `{"ge": 1}`.
pub fn check_bounds(value: f64, spec: &ParamSpec, as_float: bool) -> Option<ConstraintError> {
    let ctx_value = |b: &Bound| -> Value {
        if as_float {
            Value::from(b.value)
        } else if let Ok(i) = b.text.parse::<i64>() {
            Value::from(i)
        } else {
            Value::from(b.value)
        }
    };
    let fail = |kind: &'static str, key: &str, words: &str, b: &Bound| {
        Some(ConstraintError {
            kind,
            msg: format!("Input should be {words} {}", b.text),
            ctx: serde_json::json!({ key: ctx_value(b) }),
        })
    };
    if let Some(b) = &spec.gt
        && value <= b.value
    {
        return fail("greater_than", "gt", "greater than", b);
    }
    if let Some(b) = &spec.ge
        && value < b.value
    {
        return fail("greater_than_equal", "ge", "greater than or equal to", b);
    }
    if let Some(b) = &spec.lt
        && value >= b.value
    {
        return fail("less_than", "lt", "less than", b);
    }
    if let Some(b) = &spec.le
        && value > b.value
    {
        return fail("less_than_equal", "le", "less than or equal to", b);
    }
    None
}

/// Checks `min_length`, `max_length` (in characters) and `pattern`.
pub fn check_string(value: &str, spec: &ParamSpec) -> Option<ConstraintError> {
    if spec.min_length.is_some() || spec.max_length.is_some() {
        let len = value.chars().count();
        if let Some(min) = spec.min_length
            && len < min
        {
            let unit = if min == 1 { "character" } else { "characters" };
            return Some(ConstraintError {
                kind: "string_too_short",
                msg: format!("String should have at least {min} {unit}"),
                ctx: serde_json::json!({ "min_length": min }),
            });
        }
        if let Some(max) = spec.max_length
            && len > max
        {
            let unit = if max == 1 { "character" } else { "characters" };
            return Some(ConstraintError {
                kind: "string_too_long",
                msg: format!("String should have at most {max} {unit}"),
                ctx: serde_json::json!({ "max_length": max }),
            });
        }
    }
    if let Some(p) = &spec.pattern
        && !p.is_match(value)
    {
        return Some(ConstraintError {
            kind: "string_pattern_mismatch",
            msg: format!("String should match pattern '{}'", p.source),
            ctx: serde_json::json!({ "pattern": p.source }),
        });
    }
    None
}

macro_rules! int_param {
    ($($t:ty => $format:expr),*) => {$(
        impl ParamValue for $t {
            fn parse_param(raw: &str) -> Result<Self, ParseError> {
                raw.trim().parse::<$t>().map_err(|_| INT_PARSING)
            }
            fn check(&self, spec: &ParamSpec) -> Option<ConstraintError> {
                check_bounds(*self as f64, spec, false)
            }
            fn param_schema() -> Value {
                let mut s = serde_json::json!({ "type": "integer" });
                if let Some(f) = $format { s["format"] = Value::from(f); }
                s
            }
        }
    )*};
}

int_param!(
    i8 => Some("int8"), i16 => Some("int16"), i32 => Some("int32"), i64 => Some("int64"),
    isize => None::<&str>, i128 => None::<&str>,
    u8 => Some("uint8"), u16 => Some("uint16"), u32 => Some("uint32"), u64 => Some("uint64"),
    usize => None::<&str>, u128 => None::<&str>
);

macro_rules! float_param {
    ($($t:ty => $format:literal),*) => {$(
        impl ParamValue for $t {
            fn parse_param(raw: &str) -> Result<Self, ParseError> {
                let raw = raw.trim();
                // Rust accepts "inf"/"NaN" spellings Python's float() also accepts;
                // reject the empty string and things like "1_0" that Rust accepts.
                if raw.is_empty() || raw.contains('_') {
                    return Err(FLOAT_PARSING);
                }
                raw.parse::<$t>().map_err(|_| FLOAT_PARSING)
            }
            fn check(&self, spec: &ParamSpec) -> Option<ConstraintError> {
                check_bounds(*self as f64, spec, true)
            }
            fn param_schema() -> Value {
                serde_json::json!({ "type": "number", "format": $format })
            }
        }
    )*};
}

float_param!(f32 => "float", f64 => "double");

/// pydantic's accepted spellings of a boolean (case-insensitive).
pub(crate) fn parse_bool(raw: &str) -> Option<bool> {
    const TRUE: [&str; 6] = ["1", "on", "t", "true", "y", "yes"];
    const FALSE: [&str; 6] = ["0", "off", "f", "false", "n", "no"];
    let raw = raw.trim();
    if TRUE.iter().any(|t| raw.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| raw.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

impl ParamValue for bool {
    fn parse_param(raw: &str) -> Result<Self, ParseError> {
        parse_bool(raw).ok_or(BOOL_PARSING)
    }
    fn param_schema() -> Value {
        serde_json::json!({ "type": "boolean" })
    }
}

impl ParamValue for String {
    fn parse_param(raw: &str) -> Result<Self, ParseError> {
        Ok(raw.to_owned())
    }
    fn check(&self, spec: &ParamSpec) -> Option<ConstraintError> {
        check_string(self, spec)
    }
    fn param_schema() -> Value {
        serde_json::json!({ "type": "string" })
    }
}

impl ParamValue for char {
    fn parse_param(raw: &str) -> Result<Self, ParseError> {
        let mut chars = raw.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(ParseError {
                kind: "string_type",
                msg: "Input should be a single character",
            }),
        }
    }
    fn param_schema() -> Value {
        serde_json::json!({ "type": "string", "minLength": 1, "maxLength": 1 })
    }
}

/// Parses and validates one raw value into `T`, producing pydantic's error.
pub(crate) fn parse_value<T: ParamValue>(
    raw: &str,
    spec: &ParamSpec,
    location: Location,
) -> Result<T, ErrorItem> {
    let value = T::parse_param(raw).map_err(|e| parse_error_item(spec, location, raw, e))?;
    match value.check(spec) {
        None => Ok(value),
        Some(e) => Err(constraint_error_item(
            spec.loc(location),
            Value::from(raw),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static LIMIT: ParamSpec = ParamSpec::named("limit").ge("1", 1.0).le("100", 100.0);

    #[test]
    fn integers_parse_and_check_bounds() {
        assert_eq!(parse_value::<i32>("5", &LIMIT, Location::Query), Ok(5));
        let e = parse_value::<i32>("0", &LIMIT, Location::Query).unwrap_err();
        assert_eq!(e.kind, "greater_than_equal");
        assert_eq!(e.msg, "Input should be greater than or equal to 1");
        assert_eq!(e.ctx, Some(serde_json::json!({"ge": 1})));
        assert_eq!(e.input, "0");
        let e = parse_value::<i32>("x", &LIMIT, Location::Query).unwrap_err();
        assert_eq!(e.kind, "int_parsing");
    }

    #[test]
    fn bools_follow_pydantic_spellings() {
        for t in ["1", "yes", "ON", "True", "t", "y"] {
            assert_eq!(bool::parse_param(t), Ok(true), "{t}");
        }
        for f in ["0", "no", "off", "False", "f", "n"] {
            assert_eq!(bool::parse_param(f), Ok(false), "{f}");
        }
        assert_eq!(bool::parse_param("maybe"), Err(BOOL_PARSING));
    }

    #[test]
    fn floats_reject_rust_only_spellings() {
        assert_eq!(f64::parse_param("1_0"), Err(FLOAT_PARSING));
        assert_eq!(f64::parse_param(""), Err(FLOAT_PARSING));
        assert_eq!(f64::parse_param("9.5"), Ok(9.5));
    }
}
