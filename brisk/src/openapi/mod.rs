//! The OpenAPI 3.1 document, generated from the registered operations.
//!
//! Nothing is declared twice: each parameter's type documents itself
//! ([`FromRequest::describe`](crate::params::FromRequest::describe)), the
//! macro records constraints in the [`ParamSpec`](crate::params::ParamSpec),
//! bodies and responses get their JSON Schema (2020-12) from schemars, and
//! dependencies contribute their parameters. The document is built once, on
//! first request, and served from memory. [`docs`] serves Swagger UI and
//! ReDoc from assets compiled into the binary.

pub(crate) mod docs;

/// How return types document themselves (moved to [`response::doc`](crate::response::doc)).
pub use crate::response::doc as probe;
pub(crate) use docs::{Docs, DocsUrls};
mod pydantic_style;

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::depends::DependencyInfo;
use crate::params::{Location, ParamDoc, ParamSpec};
use crate::routing::{Operation, Param};

/// FastAPI's `generate_unique_id`: `{name}{path}` with non-word characters
/// replaced by `_`, then `_{method}`.
pub(crate) fn operation_id(op: &Operation) -> String {
    let raw: String = format!("{}{}", op.name, path_format(op.path))
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{raw}_{}", op.method.as_str().to_lowercase())
}

/// The path as OpenAPI writes it: FastAPI's `{file_path:path}` is
/// `{file_path}` there.
pub(crate) fn path_format(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_braces = false;
    let mut skipping = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_braces = true;
                out.push(c);
            }
            '}' => {
                in_braces = false;
                skipping = false;
                out.push(c);
            }
            ':' if in_braces => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

/// Adds the declared constraints and default to a value parameter's schema.
fn constrained_schema(spec: &ParamSpec, location: Location, base: Value) -> Value {
    fn apply(spec: &ParamSpec, schema: &mut Map<String, Value>) {
        let bound = |b: &crate::params::Bound| -> Value {
            b.text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(b.value))
        };
        for (key, b) in [
            ("minimum", &spec.ge),
            ("exclusiveMinimum", &spec.gt),
            ("maximum", &spec.le),
            ("exclusiveMaximum", &spec.lt),
        ] {
            if let Some(b) = b {
                schema.insert(key.into(), bound(b));
            }
        }
        if let Some(n) = spec.min_length {
            schema.insert("minLength".into(), n.into());
        }
        if let Some(n) = spec.max_length {
            schema.insert("maxLength".into(), n.into());
        }
        if let Some(p) = &spec.pattern {
            schema.insert("pattern".into(), p.source.into());
        }
    }
    let mut schema = base;
    // For `Option<T>` (anyOf [T, null]) the constraints belong to T, as in pydantic.
    let target = match schema.get_mut("anyOf").and_then(Value::as_array_mut) {
        Some(branches) => branches
            .iter_mut()
            .find(|b| b.get("type") != Some(&json!("null"))),
        None => Some(&mut schema),
    };
    if let Some(Value::Object(map)) = target {
        apply(spec, map);
    }
    // A reference to a named type (an enum) stays a bare `$ref`, as FastAPI
    // writes it.
    let bare_ref = schema
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("$ref"));
    if let Value::Object(map) = &mut schema
        && !bare_ref
    {
        if let Some(default) = spec.default_json.and_then(|d| d()) {
            map.insert("default".into(), default);
        }
        if spec.deprecated {
            map.insert("deprecated".into(), true.into());
        }
        let title = spec.title.map_or_else(
            || pydantic_style::python_title(spec.wire_name(location)),
            str::to_owned,
        );
        map.insert("title".into(), title.into());
        if let Some(d) = spec.description {
            map.insert("description".into(), d.into());
        }
    }
    schema
}

/// Whether a schema admits `null` (an `Option<T>`): such a body field is
/// not required.
fn is_nullable(schema: &Value) -> bool {
    let null = json!("null");
    schema
        .get("type")
        .is_some_and(|t| t == &null || t.as_array().is_some_and(|a| a.contains(&null)))
        || schema
            .get("anyOf")
            .and_then(Value::as_array)
            .is_some_and(|branches| branches.iter().any(|b| b.get("type") == Some(&null)))
}

/// What one operation reads from a request, flattened over its dependencies.
#[derive(Default)]
struct Inputs {
    parameters: Vec<Value>,
    body: Option<Value>,
    /// Body parameters read from fields of the body: name, schema, required.
    embedded: Vec<(&'static str, Value, bool)>,
    /// Form fields: name, schema, required; and whether one is a file.
    form: Vec<(&'static str, Value, bool)>,
    form_has_file: bool,
    validates: bool,
    /// Security schemes the operation requires: name and scheme object.
    security: Vec<(&'static str, Value)>,
}

impl Inputs {
    fn add_params(
        &mut self,
        params: &[Param],
        generator: &mut SchemaGenerator,
        seen: &mut Vec<&'static str>,
    ) {
        for p in params {
            match (p.describe)(p.spec) {
                ParamDoc::Hidden => {}
                ParamDoc::Dependency(info) => self.add_dependency(info, generator, seen),
                ParamDoc::Value {
                    location,
                    required,
                    schema,
                } => {
                    self.validates = true;
                    let name = p.spec.wire_name(location);
                    let already = self
                        .parameters
                        .iter()
                        .any(|q| q["name"] == name && q["in"] == location.as_str());
                    if already {
                        continue;
                    }
                    let mut param = json!({
                        "name": name,
                        "in": location.as_str(),
                        "required": required || location == Location::Path,
                        "schema": constrained_schema(p.spec, location, schema(generator)),
                    });
                    if let Some(d) = p.spec.description {
                        param["description"] = d.into();
                    }
                    if p.spec.deprecated {
                        param["deprecated"] = true.into();
                    }
                    self.parameters.push(param);
                }
                ParamDoc::FormField {
                    schema,
                    required,
                    file,
                } => {
                    self.validates = true;
                    self.form_has_file |= file;
                    let name = p.spec.wire_name(Location::Body);
                    let schema = constrained_schema(p.spec, Location::Body, schema(generator));
                    self.form
                        .push((name, schema, required && !p.spec.has_default));
                }
                ParamDoc::FormFields { fields } => {
                    self.validates = true;
                    self.form.extend(fields());
                }
                ParamDoc::FormModel { schema } => {
                    self.validates = true;
                    self.body = Some(json!({
                        "content": {"application/x-www-form-urlencoded": {"schema": schema(generator)}},
                        "required": true,
                    }));
                }
                ParamDoc::Security { name, scheme } => {
                    if !self.security.iter().any(|(n, _)| *n == name) {
                        self.security.push((name, scheme(p.spec)));
                    }
                }
                ParamDoc::Body { schema } => {
                    self.validates = true;
                    let mut schema = schema(generator).to_value();
                    if p.spec.embed {
                        let required = !is_nullable(&schema);
                        self.embedded
                            .push((p.spec.wire_name(Location::Body), schema, required));
                        continue;
                    }
                    // A model is a `$ref`; anything else is titled after the
                    // parameter, as FastAPI does (`weights: dict[int, float]`).
                    if let Value::Object(map) = &mut schema
                        && !map.contains_key("$ref")
                    {
                        map.insert(
                            "title".into(),
                            pydantic_style::python_title(p.spec.name).into(),
                        );
                    }
                    self.body = Some(json!({
                        "content": {"application/json": {"schema": schema}},
                        "required": true,
                    }));
                }
            }
        }
    }

    fn add_dependency(
        &mut self,
        info: &'static DependencyInfo,
        generator: &mut SchemaGenerator,
        seen: &mut Vec<&'static str>,
    ) {
        if seen.contains(&info.name) {
            return; // cached dependencies contribute once (and cycles were refused at startup)
        }
        seen.push(info.name);
        self.add_params(info.params, generator, seen);
    }
}

fn operation_object(
    op: &Operation,
    generator: &mut SchemaGenerator,
    security_schemes: &mut Map<String, Value>,
) -> Value {
    let mut inputs = Inputs::default();
    let mut seen = Vec::new();
    for dep in &op.dependencies {
        inputs.add_dependency(dep.info(), generator, &mut seen);
    }
    inputs.add_params(op.params, generator, &mut seen);
    if !inputs.form.is_empty() {
        // FastAPI's generated model for form fields: `Body_<operationId>`,
        // sent as multipart when it has a file.
        let name = format!("Body_{}", operation_id(op));
        let properties: Map<String, Value> = inputs
            .form
            .iter()
            .map(|(n, schema, _)| ((*n).to_owned(), schema.clone()))
            .collect();
        let required: Vec<&str> = inputs
            .form
            .iter()
            .filter(|(_, _, required)| *required)
            .map(|(n, _, _)| *n)
            .collect();
        let mut model = json!({"properties": properties, "type": "object", "title": name});
        if !required.is_empty() {
            model["required"] = json!(required);
        }
        generator.definitions_mut().insert(name.clone(), model);
        let media = if inputs.form_has_file {
            "multipart/form-data"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut body = json!({"content": {media: {"schema": {"$ref": format!("#/components/schemas/{name}")}}}});
        if !required.is_empty() {
            body["required"] = true.into();
        }
        inputs.body = Some(body);
    }
    if !inputs.embedded.is_empty() {
        // FastAPI's generated model for embedded bodies: `Body_<operationId>`.
        let name = format!("Body_{}", operation_id(op));
        let properties: Map<String, Value> = inputs
            .embedded
            .iter()
            .map(|(n, schema, _)| ((*n).to_owned(), schema.clone()))
            .collect();
        let required: Vec<&str> = inputs
            .embedded
            .iter()
            .filter(|(_, _, required)| *required)
            .map(|(n, _, _)| *n)
            .collect();
        let model = json!({"properties": properties, "type": "object", "required": required, "title": name});
        generator.definitions_mut().insert(name.clone(), model);
        inputs.body = Some(json!({
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}},
            "required": true,
        }));
    }

    let mut object = Map::new();
    if !op.tags.is_empty() {
        object.insert("tags".into(), json!(op.tags));
    }
    // FastAPI's default summary is the function name, title-cased.
    let summary = op
        .summary
        .map_or_else(|| pydantic_style::python_title(op.name), str::to_owned);
    object.insert("summary".into(), summary.into());
    if let Some(d) = op.description {
        object.insert("description".into(), d.into());
    }
    object.insert("operationId".into(), operation_id(op).into());
    if !inputs.security.is_empty() {
        let requirements: Vec<Value> = inputs
            .security
            .iter()
            .map(|(name, _)| json!({ *name: [] }))
            .collect();
        object.insert("security".into(), requirements.into());
        for (name, scheme) in &inputs.security {
            security_schemes.insert((*name).to_owned(), scheme.clone());
        }
    }
    if !inputs.parameters.is_empty() {
        // FastAPI lists path, then query, header and cookie parameters
        // (each in declaration order, dependencies' first).
        let rank = |p: &Value| match p["in"].as_str() {
            Some("path") => 0,
            Some("query") => 1,
            Some("header") => 2,
            _ => 3,
        };
        inputs.parameters.sort_by_key(rank);
        object.insert("parameters".into(), inputs.parameters.into());
    }
    if let Some(body) = inputs.body {
        object.insert("requestBody".into(), body);
    }
    let mut responses = Map::new();
    let status = op.status.as_u16();
    let success = if status == 204 || status == 304 {
        json!({"description": "Successful Response"})
    } else {
        let (content_type, mut schema) = match (op.response_doc)(generator) {
            Some(doc) => (doc.content_type, doc.schema.to_value()),
            None => ("application/json", json!({})),
        };
        // FastAPI titles a response model that is not a named model:
        // "Response " + the operationId, title-cased.
        if let Value::Object(map) = &mut schema
            && !map.is_empty()
            && !map.contains_key("$ref")
            && content_type == "application/json"
        {
            let title = format!(
                "Response {}",
                pydantic_style::python_title(&operation_id(op))
            );
            map.insert("title".into(), title.into());
        }
        json!({"description": "Successful Response", "content": {content_type: {"schema": schema}}})
    };
    responses.insert(status.to_string(), success);
    for (code, description) in op.responses {
        responses.insert(code.to_string(), json!({ "description": description }));
    }
    if inputs.validates {
        responses.insert(
            "422".into(),
            json!({
                "description": "Validation Error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}
            }),
        );
    }
    object.insert("responses".into(), responses.into());
    Value::Object(object)
}

/// FastAPI's schemas for the 422 body.
fn validation_schemas() -> [(&'static str, Value); 2] {
    [
        (
            "HTTPValidationError",
            json!({
                "properties": {"detail": {"items": {"$ref": "#/components/schemas/ValidationError"}, "type": "array", "title": "Detail"}},
                "type": "object",
                "title": "HTTPValidationError"
            }),
        ),
        (
            "ValidationError",
            json!({
                "properties": {
                    "loc": {"items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "type": "array", "title": "Location"},
                    "msg": {"type": "string", "title": "Message"},
                    "type": {"type": "string", "title": "Error Type"},
                    "input": {"title": "Input"},
                    "ctx": {"type": "object", "title": "Context"}
                },
                "type": "object",
                "required": ["loc", "msg", "type"],
                "title": "ValidationError"
            }),
        ),
    ]
}

/// Rewrites every schema of an operation (parameters, body, responses) the
/// way pydantic writes them.
fn normalize_operation_schemas(operation: &mut Value) {
    if let Some(Value::Array(params)) = operation.get_mut("parameters") {
        for p in params {
            if let Some(schema) = p.get_mut("schema") {
                pydantic_style::normalize(schema);
            }
        }
    }
    let Value::Object(operation) = operation else {
        return;
    };
    let mut contents: Vec<&mut Value> = Vec::new();
    for (key, value) in operation.iter_mut() {
        match (key.as_str(), value) {
            ("requestBody", body) => contents.extend(body.get_mut("content")),
            ("responses", Value::Object(responses)) => {
                contents.extend(responses.values_mut().filter_map(|r| r.get_mut("content")))
            }
            _ => {}
        }
    }
    for content in contents {
        if let Value::Object(media) = content {
            for m in media.values_mut() {
                if let Some(schema) = m.get_mut("schema") {
                    pydantic_style::normalize(schema);
                }
            }
        }
    }
}

/// The document's `info`: the app's title, version and description.
#[derive(Debug, Clone)]
pub(crate) struct ApiInfo {
    pub(crate) title: String,
    pub(crate) version: String,
    pub(crate) description: Option<String>,
}

/// Builds the whole document.
pub(crate) fn document(info: &ApiInfo, operations: &[Operation]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let mut ops: Vec<&Operation> = operations.iter().filter(|o| o.include_in_schema).collect();
    ops.sort_by_key(|o| o.id);
    let mut paths = Map::new();
    let mut uses_validation = false;
    let mut security_schemes = Map::new();
    for op in ops {
        let object = operation_object(op, &mut generator, &mut security_schemes);
        uses_validation |= object["responses"].get("422").is_some();
        let item = paths
            .entry(path_format(op.path))
            .or_insert_with(|| Value::Object(Map::new()));
        item[op.method.as_str().to_lowercase()] = object;
    }
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    if uses_validation {
        for (name, schema) in validation_schemas() {
            schemas.insert(name.into(), schema);
        }
    }
    for (name, schema) in schemas.iter_mut() {
        pydantic_style::normalize(schema);
        pydantic_style::title_component(name, schema);
    }
    schemas.sort_keys();
    for item in paths.values_mut() {
        for operation in item
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            normalize_operation_schemas(operation);
        }
    }
    let app = info;
    let mut info = json!({"title": app.title, "version": app.version});
    if let Some(d) = &app.description {
        info["description"] = d.clone().into();
    }
    let mut doc = json!({"openapi": "3.1.0", "info": info, "paths": paths});
    let mut components = Map::new();
    if !schemas.is_empty() {
        components.insert("schemas".into(), schemas.into());
    }
    if !security_schemes.is_empty() {
        components.insert("securitySchemes".into(), security_schemes.into());
    }
    if !components.is_empty() {
        doc["components"] = components.into();
    }
    doc
}
