//! Scalar parameter values: parsing a string into a number, bool or string,
//! and checking the declared constraints, with pydantic's error types and
//! messages.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Bound, Location, ParamSpec};
use crate::error::{ErrorItem, LocPart};

/// Why a raw string is not a valid value: pydantic's error `type`, `msg`
/// and, for some, `ctx`.
///
/// ```
/// let e = brisk::params::ParseError::new("int_parsing", "Input should be a valid integer");
/// assert_eq!(e.kind, "int_parsing");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The error type, e.g. `int_parsing`.
    pub kind: &'static str,
    /// The message, e.g. "Input should be a valid integer, unable to parse string as an integer".
    pub msg: Cow<'static, str>,
    /// Extra context (e.g. `{"expected": "'a' or 'b'"}` for an enum).
    pub ctx: Option<Value>,
}

impl ParseError {
    /// An error with a fixed message and no context.
    pub const fn new(kind: &'static str, msg: &'static str) -> Self {
        ParseError {
            kind,
            msg: Cow::Borrowed(msg),
            ctx: None,
        }
    }
}

pub(crate) const INT_PARSING: ParseError = ParseError::new(
    "int_parsing",
    "Input should be a valid integer, unable to parse string as an integer",
);
pub(crate) const FLOAT_PARSING: ParseError = ParseError::new(
    "float_parsing",
    "Input should be a valid number, unable to parse string as a number",
);
pub(crate) const BOOL_PARSING: ParseError = ParseError::new(
    "bool_parsing",
    "Input should be a valid boolean, unable to interpret input",
);
/// A well-formed integer outside the parameter type's range; the real error
/// comes from [`ParamValue::out_of_range`].
pub(crate) const OUT_OF_RANGE: ParseError = ParseError::new(
    "out_of_range",
    "Input is out of the range of the parameter's type",
);

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
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a value brisk can read from a path, query, header or cookie",
    label = "a parameter of this type",
    note = "a JSON request body? declare the parameter as `Json<{Self}>`",
    note = "an enum of allowed values? add `#[derive(ParamEnum)]` (with `Deserialize` and `JsonSchema`)",
    note = "a dependency's output? declare it as `Depends<the_dependency>`"
)]
pub trait ParamValue: Sized + Send + 'static {
    /// Parses the raw (already percent-decoded) string.
    fn parse_param(raw: &str) -> Result<Self, ParseError>;

    /// Checks the declared constraints against the parsed value.
    fn check(&self, _spec: &ParamSpec) -> Option<ConstraintError> {
        None
    }

    /// The JSON Schema of the value (for OpenAPI); a named type (an enum)
    /// adds itself to `generator`'s components and returns a reference.
    fn param_schema(generator: &mut schemars::SchemaGenerator) -> Value;

    /// For a value that parses but does not fit the type (an integer too
    /// large for it): the error to report, as a bound.
    fn out_of_range(_raw: &str) -> Option<ConstraintError> {
        None
    }
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
    let item = ErrorItem::new(err.kind, spec.loc(location), err.msg, Value::from(raw));
    match err.ctx {
        Some(ctx) => item.with_ctx(ctx),
        None => item,
    }
}

pub(crate) fn constraint_error_item(
    loc: Vec<LocPart>,
    input: Value,
    e: ConstraintError,
) -> ErrorItem {
    ErrorItem::new(e.kind, loc, e.msg, input).with_ctx(e.ctx)
}

/// Checks numeric bounds the way pydantic does: in pydantic-core's order
/// (`le`, `lt`, `ge`, `gt`), and failing every bound for NaN. `as_float`
/// decides how the bound appears in `ctx`: pydantic converts it to the
/// field's type, so a float field reports `{"gt": 0.0}` and an int field
/// `{"ge": 1}`.
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
    // NaN compares as nothing, so it fails each bound, as in Python.
    use std::cmp::Ordering::{Equal, Greater, Less};
    let holds = |b: &Bound, allowed: &[std::cmp::Ordering]| {
        value
            .partial_cmp(&b.value)
            .is_some_and(|o| allowed.contains(&o))
    };
    if let Some(b) = &spec.le
        && !holds(b, &[Less, Equal])
    {
        return fail("less_than_equal", "le", "less than or equal to", b);
    }
    if let Some(b) = &spec.lt
        && !holds(b, &[Less])
    {
        return fail("less_than", "lt", "less than", b);
    }
    if let Some(b) = &spec.ge
        && !holds(b, &[Greater, Equal])
    {
        return fail("greater_than_equal", "ge", "greater than or equal to", b);
    }
    if let Some(b) = &spec.gt
        && !holds(b, &[Greater])
    {
        return fail("greater_than", "gt", "greater than", b);
    }
    None
}

/// `raw` with Python's digit-grouping underscores removed (`5_000` →
/// `5000`); `None` if an underscore is not between two digits.
fn without_underscores(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !raw.contains('_') {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'_' {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + 1).copied();
            if !before.is_some_and(|c| c.is_ascii_digit())
                || !after.is_some_and(|c| c.is_ascii_digit())
            {
                return None;
            }
        }
    }
    Some(std::borrow::Cow::Owned(raw.replace('_', "")))
}

/// An integer as pydantic reads one from a string in lax mode: surrounding
/// whitespace, a sign, digit-grouping underscores and a zero fraction
/// (`"5.0"`) are accepted; anything else (`"5.5"`, `"1e3"`) is not. Values
/// beyond `i128` fail like other unparsable input.
pub(crate) fn parse_int(raw: &str) -> Option<i128> {
    let text = without_underscores(raw.trim())?;
    let text = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() && fraction.bytes().all(|b| b == b'0') => {
            whole
        }
        Some(_) => return None,
        None => &text,
    };
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i128>().ok()
}

/// A float as Python's `float()` reads a string: whitespace, underscores
/// between digits, `inf`, `infinity` and `nan` in any case.
pub(crate) fn parse_float(raw: &str) -> Option<f64> {
    let text = without_underscores(raw.trim())?;
    if text.is_empty() {
        return None;
    }
    text.parse::<f64>().ok()
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

/// An integer type's range as pydantic-style bounds: a value outside it is
/// reported like a value outside `ge`/`le` (e.g. `less_than_equal` with
/// `{"le": 255}` for a `u8`), since that is what it is.
fn range_error(value: i128, min: i128, max: i128) -> Option<ConstraintError> {
    if value > max {
        Some(ConstraintError {
            kind: "less_than_equal",
            msg: format!("Input should be less than or equal to {max}"),
            ctx: serde_json::json!({ "le": range_value(max) }),
        })
    } else if value < min {
        Some(ConstraintError {
            kind: "greater_than_equal",
            msg: format!("Input should be greater than or equal to {min}"),
            ctx: serde_json::json!({ "ge": range_value(min) }),
        })
    } else {
        None
    }
}

fn range_value(v: i128) -> Value {
    i64::try_from(v)
        .map(Value::from)
        .or_else(|_| u64::try_from(v).map(Value::from))
        .unwrap_or_else(|_| Value::from(v as f64))
}

macro_rules! int_param {
    ($($t:ty => $documented_range:expr),*) => {$(
        impl ParamValue for $t {
            fn parse_param(raw: &str) -> Result<Self, ParseError> {
                let wide = parse_int(raw).ok_or(INT_PARSING)?;
                <$t>::try_from(wide).map_err(|_| OUT_OF_RANGE)
            }
            fn check(&self, spec: &ParamSpec) -> Option<ConstraintError> {
                check_bounds(*self as f64, spec, false)
            }
            fn param_schema(_generator: &mut schemars::SchemaGenerator) -> Value {
                let mut s = serde_json::json!({ "type": "integer" });
                // pydantic's `int` has no bounds; narrower Rust types say theirs.
                if $documented_range {
                    s["minimum"] = range_value(<$t>::MIN as i128);
                    s["maximum"] = range_value(<$t>::MAX as i128);
                }
                s
            }
            fn out_of_range(raw: &str) -> Option<ConstraintError> {
                let wide = parse_int(raw)?;
                range_error(wide, <$t>::MIN as i128, <$t>::MAX as i128)
            }
        }
    )*};
}

int_param!(
    i8 => true, i16 => true, i32 => true, i64 => false, isize => false, i128 => false,
    u8 => true, u16 => true, u32 => true, u64 => true, usize => true, u128 => true
);

macro_rules! float_param {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            fn parse_param(raw: &str) -> Result<Self, ParseError> {
                parse_float(raw).map(|f| f as $t).ok_or(FLOAT_PARSING)
            }
            fn check(&self, spec: &ParamSpec) -> Option<ConstraintError> {
                check_bounds(*self as f64, spec, true)
            }
            fn param_schema(_generator: &mut schemars::SchemaGenerator) -> Value {
                serde_json::json!({ "type": "number" })
            }
        }
    )*};
}

float_param!(f32, f64);

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
    fn param_schema(_generator: &mut schemars::SchemaGenerator) -> Value {
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
    fn param_schema(_generator: &mut schemars::SchemaGenerator) -> Value {
        serde_json::json!({ "type": "string" })
    }
}

impl ParamValue for char {
    fn parse_param(raw: &str) -> Result<Self, ParseError> {
        let mut chars = raw.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(ParseError::new(
                "string_type",
                "Input should be a single character",
            )),
        }
    }
    fn param_schema(_generator: &mut schemars::SchemaGenerator) -> Value {
        serde_json::json!({ "type": "string", "minLength": 1, "maxLength": 1 })
    }
}

/// pydantic's list of allowed values: `'a', 'b' or 'c'`.
pub(crate) fn expected_list(allowed: &[Value]) -> String {
    let items: Vec<String> = allowed
        .iter()
        .map(|a| match a {
            Value::String(s) => format!("'{s}'"),
            other => other.to_string(),
        })
        .collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// Reads a unit-variant enum from its serde name, with pydantic's `enum`
/// error listing the allowed values. What `#[derive(ParamEnum)]` calls.
///
/// ```
/// use brisk::prelude::*;
///
/// #[derive(Deserialize, JsonSchema, Debug, PartialEq)]
/// #[serde(rename_all = "lowercase")]
/// enum ModelName { Alexnet, Resnet, Lenet }
///
/// assert_eq!(brisk::params::parse_enum::<ModelName>("resnet"), Ok(ModelName::Resnet));
/// let e = brisk::params::parse_enum::<ModelName>("foo").unwrap_err();
/// assert_eq!(e.msg, "Input should be 'alexnet', 'resnet' or 'lenet'");
/// ```
pub fn parse_enum<T: DeserializeOwned + JsonSchema>(raw: &str) -> Result<T, ParseError> {
    if let Ok(v) = serde_json::from_value::<T>(Value::String(raw.to_owned())) {
        return Ok(v);
    }
    // The error path: the allowed values come from the type's schema, which
    // follows its serde names.
    let schema = schemars::schema_for!(T).to_value();
    let allowed: Vec<Value> = schema
        .get("enum")
        .and_then(Value::as_array)
        .cloned()
        .or_else(|| {
            // `oneOf` of `const`s, for enums with documented variants.
            schema
                .get("oneOf")
                .and_then(Value::as_array)
                .map(|branches| {
                    branches
                        .iter()
                        .filter_map(|b| b.get("const").or_else(|| b.get("enum")?.get(0)))
                        .cloned()
                        .collect()
                })
        })
        .unwrap_or_default();
    let expected = expected_list(&allowed);
    Err(ParseError {
        kind: "enum",
        msg: Cow::Owned(format!("Input should be {expected}")),
        ctx: Some(serde_json::json!({ "expected": expected })),
    })
}

/// Parses and validates one raw value into `T`, producing pydantic's error.
pub(crate) fn parse_value<T: ParamValue>(
    raw: &str,
    spec: &ParamSpec,
    location: Location,
) -> Result<T, ErrorItem> {
    let value = T::parse_param(raw).map_err(|e| match T::out_of_range(raw) {
        Some(bound) if e == OUT_OF_RANGE => {
            constraint_error_item(spec.loc(location), Value::from(raw), bound)
        }
        _ => parse_error_item(spec, location, raw, e),
    })?;
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
    fn numbers_parse_as_pydantic_reads_strings() {
        // Expected values from pydantic 2.14's TypeAdapter(int / float).
        for (raw, want) in [
            ("5", Some(5)),
            ("5_000", Some(5000)),
            ("5.0", Some(5)),
            ("5.00", Some(5)),
            ("+3", Some(3)),
            (" 5 ", Some(5)),
            ("007", Some(7)),
            ("5.", None),
            ("5.10", None),
            ("1e3", None),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("0x10", None),
            ("", None),
        ] {
            assert_eq!(parse_int(raw), want, "{raw:?}");
        }
        for (raw, want) in [
            ("1_5", Some(15.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1e3", Some(1000.0)),
        ] {
            assert_eq!(parse_float(raw), want, "{raw:?}");
        }
        for raw in ["1__5", "_1", "0x1", "1,5", "1e", ""] {
            assert_eq!(parse_float(raw), None, "{raw:?}");
        }
        assert!(parse_float("infinity").unwrap().is_infinite());
        assert!(parse_float("NaN").unwrap().is_nan());
    }

    #[test]
    fn nan_fails_every_bound_in_pydantics_order() {
        static SIZE: ParamSpec = ParamSpec::named("size").gt("0", 0.0).lt("10.5", 10.5);
        let e = parse_value::<f64>("nan", &SIZE, Location::Query).unwrap_err();
        assert_eq!(e.kind, "less_than");
        let e = parse_value::<f64>("-inf", &SIZE, Location::Query).unwrap_err();
        assert_eq!(e.kind, "greater_than");
        assert_eq!(e.ctx, Some(serde_json::json!({"gt": 0.0})));
    }

    #[test]
    fn integers_outside_their_type_are_out_of_bounds() {
        static N: ParamSpec = ParamSpec::named("n");
        let e = parse_value::<u8>("300", &N, Location::Query).unwrap_err();
        assert_eq!(e.kind, "less_than_equal");
        assert_eq!(e.ctx, Some(serde_json::json!({"le": 255})));
        let e = parse_value::<u8>("-1", &N, Location::Query).unwrap_err();
        assert_eq!(e.kind, "greater_than_equal");
        let e = parse_value::<i64>("99999999999999999999", &N, Location::Query).unwrap_err();
        assert_eq!(e.kind, "less_than_equal");
    }
}
