//! Procedural macros for brisk: `#[get]`, `#[post]`, `#[put]`, `#[patch]`,
//! `#[delete]`.
//!
//! The generated code is deliberately thin. For a handler
//!
//! ```ignore
//! #[get("/items/{item_id}")]
//! async fn read_item(item_id: u32, #[param(ge = 1, le = 100)] limit: u32) -> Json<Item> { .. }
//! ```
//!
//! it keeps the function unchanged (minus the `#[param]` attributes) and adds
//! a marker type `read_item` (a braced struct lives in the type namespace, so
//! it does not clash with the function) implementing
//! `brisk::routing::IntoOperation`. Its `operation()` returns an `Operation`
//! whose handler: builds one static `ParamSpec` per parameter, extracts every
//! parameter through `brisk::params::Extraction` (collecting all errors for
//! one 422), then calls `brisk::routing::call_async` (event loop) or
//! `brisk::routing::call_sync` (thread pool). Everything else is library code.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, FnArg, Ident, ItemFn, Lit, LitStr, Meta, Pat, Token, Type};

/// `#[get("/path", status = 200, tags = ["a"], summary = "...")]`
#[proc_macro_attribute]
pub fn get(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("GET", args, item)
}

/// `#[post("/path", status = 201)]`
#[proc_macro_attribute]
pub fn post(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("POST", args, item)
}

/// `#[put("/path")]`
#[proc_macro_attribute]
pub fn put(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("PUT", args, item)
}

/// `#[patch("/path")]`
#[proc_macro_attribute]
pub fn patch(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("PATCH", args, item)
}

/// `#[delete("/path")]`
#[proc_macro_attribute]
pub fn delete(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("DELETE", args, item)
}

/// `#[websocket("/ws/{room}")]` on an `async fn` taking a
/// `brisk::ws::WebSocket` (and any other parameters, with the path
/// operations' rules). A failed parameter or dependency closes the
/// connection with 1008; the route stays out of the OpenAPI document.
#[proc_macro_attribute]
pub fn websocket(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(WEBSOCKET, args, item)
}

/// The pseudo-method of `#[websocket]` (a GET with an upgrade).
const WEBSOCKET: &str = "WEBSOCKET";

fn expand(method: &str, args: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(args as RouteArgs);
    let func = syn::parse_macro_input!(item as ItemFn);
    match expand_route(method, args, func) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The attribute's arguments: the path, then `key = value` options.
struct RouteArgs {
    path: LitStr,
    options: Vec<(Ident, Expr)>,
}

impl Parse for RouteArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut options = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            options.push((key, value));
        }
        Ok(RouteArgs { path, options })
    }
}

/// The names in `{...}` segments of a path template (`{name}` or `{name:path}`).
fn template_names(path: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 1..start + len];
        names.push(inner.split(':').next().unwrap_or(inner).to_owned());
        rest = &rest[start + len + 1..];
    }
    names
}

/// Every `{name}` of the path template must be a parameter of the function
/// (FastAPI would otherwise fail at request time, or never match).
fn check_template_names(path: &LitStr, names: &[String], func: &ItemFn) -> syn::Result<()> {
    let params: Vec<String> = func
        .sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(p) => Some(p.ident.to_string().trim_start_matches("r#").to_owned()),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    for name in names {
        if params.contains(name) {
            continue;
        }
        let fn_name = &func.sig.ident;
        let suggestion = params
            .iter()
            .map(|p| (edit_distance(p, name), p))
            .filter(|(d, p)| *d <= name.len().max(p.len()) / 2)
            .min()
            .map(|(_, p)| format!("; did you mean `{p}` (rename it `{name}`)?"))
            .unwrap_or_else(|| format!("; add a parameter `{name}` to `{fn_name}`"));
        return Err(syn::Error::new_spanned(
            path,
            format!(
                "the path template has `{{{name}}}` but `{fn_name}` has no parameter `{name}`{suggestion}"
            ),
        ));
    }
    Ok(())
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// `#[middleware]` on `async fn name(request: Request, next: Next) -> Response`:
/// FastAPI's `@app.middleware("http")`. Register it with
/// `App::middleware(name)`. The attribute checks the shape (so a mistake is
/// reported here, not as a trait error at the registration) and leaves the
/// function unchanged.
#[proc_macro_attribute]
pub fn middleware(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = syn::parse_macro_input!(item as ItemFn);
    if !args.is_empty() {
        return syn::Error::new(Span::call_site(), "#[middleware] takes no arguments")
            .to_compile_error()
            .into();
    }
    let problem = if func.sig.asyncness.is_none() {
        Some((
            func.sig.fn_token.span,
            "a middleware is an `async fn`: it awaits `next.run(request)`",
        ))
    } else if func.sig.inputs.len() != 2 {
        Some((
            func.sig.ident.span(),
            "a middleware takes two parameters: `request: Request, next: Next` (from `brisk::middleware`)",
        ))
    } else if matches!(func.sig.output, syn::ReturnType::Default) {
        Some((
            func.sig.ident.span(),
            "a middleware returns the response: `-> Response` (or anything `IntoResponse`)",
        ))
    } else {
        None
    };
    if let Some((span, message)) = problem {
        return syn::Error::new(span, message).to_compile_error().into();
    }
    quote!(#func).into()
}

/// `#[derive(Exception)]` on an application error type: handlers may return
/// it as their error (`Result<T, MyError>`), and the app answers it with the
/// handler registered by `App::exception_handler::<MyError>` (FastAPI's
/// custom exception classes). Without a handler it answers a plain 500.
#[proc_macro_derive(Exception)]
pub fn derive_exception(item: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(item as syn::DeriveInput);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics ::brisk::response::IntoResponse for #name #ty_generics #where_clause {
            fn into_response(self) -> ::brisk::response::Response {
                ::brisk::error::raise(self)
            }
        }
    }
    .into()
}

/// `#[derive(ParamEnum)]` on a unit-variant enum with `Deserialize` and
/// `JsonSchema`: usable as a path, query, header or cookie parameter, read
/// by its serde names, with pydantic's `enum` error and a `$ref` to the
/// enum in the OpenAPI document (FastAPI's `class ModelName(str, Enum)`).
#[proc_macro_derive(ParamEnum)]
pub fn derive_param_enum(item: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(item as syn::DeriveInput);
    let syn::Data::Enum(data) = &input.data else {
        return syn::Error::new_spanned(&input.ident, "ParamEnum is for enums")
            .to_compile_error()
            .into();
    };
    if let Some(v) = data.variants.iter().find(|v| !v.fields.is_empty()) {
        return syn::Error::new_spanned(v, "ParamEnum variants cannot carry data")
            .to_compile_error()
            .into();
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics ::brisk::params::ParamValue for #name #ty_generics #where_clause {
            fn parse_param(raw: &str) -> ::core::result::Result<Self, ::brisk::params::ParseError> {
                ::brisk::params::parse_enum::<Self>(raw)
            }
            fn param_schema(generator: &mut ::brisk::schemars::SchemaGenerator) -> ::brisk::serde_json::Value {
                generator.subschema_for::<Self>().to_value()
            }
        }
    }
    .into()
}

/// Constraints and options from `#[param(...)]` on one parameter.
#[derive(Default)]
struct ParamOptions {
    default: Option<Expr>,
    alias: Option<LitStr>,
    description: Option<LitStr>,
    title: Option<LitStr>,
    deprecated: bool,
    bounds: Vec<(String, Expr)>,
    min_length: Option<Expr>,
    max_length: Option<Expr>,
    pattern: Option<LitStr>,
}

fn lit_str(expr: &Expr) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

fn parse_param_attr(attrs: &mut Vec<syn::Attribute>) -> syn::Result<ParamOptions> {
    let mut opts = ParamOptions::default();
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        if !attr.path().is_ident("param") {
            kept.push(attr);
            continue;
        }
        let items = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)?;
        for item in items {
            let Meta::NameValue(nv) = item else {
                return Err(syn::Error::new_spanned(item, "expected `name = value`"));
            };
            let key = nv
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            match key.as_str() {
                "default" => opts.default = Some(nv.value),
                "alias" => opts.alias = Some(lit_str(&nv.value)?),
                "description" => opts.description = Some(lit_str(&nv.value)?),
                "title" => opts.title = Some(lit_str(&nv.value)?),
                "deprecated" => match &nv.value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Bool(b), ..
                    }) => opts.deprecated = b.value,
                    other => {
                        return Err(syn::Error::new_spanned(other, "expected `true` or `false`"));
                    }
                },
                "ge" | "gt" | "le" | "lt" => opts.bounds.push((key, nv.value)),
                "min_length" => opts.min_length = Some(nv.value),
                "max_length" => opts.max_length = Some(nv.value),
                "pattern" => opts.pattern = Some(lit_str(&nv.value)?),
                _ => {
                    return Err(syn::Error::new_spanned(
                        nv.path,
                        "unknown parameter option; expected one of: default, alias, title, description, deprecated, ge, gt, le, lt, min_length, max_length, pattern",
                    ));
                }
            }
        }
    }
    *attrs = kept;
    Ok(opts)
}

/// The doc comment of the function, joined into one string.
fn doc_comment(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => lit_str(&nv.value).ok().map(|s| s.value()),
            _ => None,
        })
        .map(|l| l.strip_prefix(' ').map(str::to_owned).unwrap_or(l))
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// What the macros generate for a function's parameters.
struct Params {
    /// `static` ParamSpec items.
    specs: Vec<TokenStream2>,
    /// `Param { spec, describe }` entries, in order.
    entries: Vec<TokenStream2>,
    /// One `let __brisk_arg_i: Option<T> = ...;` per parameter.
    extractions: Vec<TokenStream2>,
    /// The argument variables.
    args: Vec<Ident>,
}

/// The last path segment of a type (`Json` for `brisk::Json<Item>`).
fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(tp) => tp.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Whether the parameters' bodies are embedded under their names: with
/// several body parameters (FastAPI embeds them all: `{"item": ..., "user":
/// ...}`), or when one is declared `Embed<T>` (FastAPI's `Body(embed=True)`).
fn bodies_embedded(func: &ItemFn) -> bool {
    let kinds: Vec<String> = func
        .sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pt) => type_name(&pt.ty),
            FnArg::Receiver(_) => None,
        })
        .filter(|name| name == "Json" || name == "Embed")
        .collect();
    kinds.len() > 1 || kinds.iter().any(|k| k == "Embed")
}

/// Builds the parameter specs and extraction code. `on_respond` is the
/// statement that leaves the generated function with an early response
/// `resp` (a route returns it, a dependency wraps it in a rejection).
fn expand_params(
    func: &mut ItemFn,
    in_path: &[String],
    on_respond: &TokenStream2,
) -> syn::Result<Params> {
    let mut out = Params {
        specs: Vec::new(),
        entries: Vec::new(),
        extractions: Vec::new(),
        args: Vec::new(),
    };
    let embedded = bodies_embedded(func);
    for (i, input) in func.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(pat_type) = input else {
            return Err(syn::Error::new_spanned(
                input,
                "path operations and dependencies cannot take `self`",
            ));
        };
        let opts = parse_param_attr(&mut pat_type.attrs)?;
        let Pat::Ident(pat_ident) = &*pat_type.pat else {
            return Err(syn::Error::new_spanned(
                &pat_type.pat,
                "parameters must be plain names: the name is the parameter's name",
            ));
        };
        let name = pat_ident.ident.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
        let ty: &Type = &pat_type.ty;
        let spec_ident = format_ident!("__BRISK_PARAM_{}", i);
        let arg_ident = format_ident!("__brisk_arg_{}", i);

        let header_name = opts
            .alias
            .as_ref()
            .map(LitStr::value)
            .unwrap_or_else(|| name.replace('_', "-"));
        let some_or_none = |e: Option<TokenStream2>| match e {
            Some(e) => quote!(::core::option::Option::Some(#e)),
            None => quote!(::core::option::Option::None),
        };
        let alias = some_or_none(opts.alias.as_ref().map(|a| quote!(#a)));
        let description = some_or_none(opts.description.as_ref().map(|d| quote!(#d)));
        let title = some_or_none(opts.title.as_ref().map(|t| quote!(#t)));
        let deprecated = opts.deprecated;
        let embed = embedded && matches!(type_name(ty).as_deref(), Some("Json" | "Embed"));
        let is_path = in_path.contains(&name);
        // Every field is written out: struct-update syntax from a const
        // would have to drop the const's `OnceLock`s, which statics forbid.
        let mut bound_fields = Vec::new();
        for key in ["ge", "gt", "le", "lt"] {
            let ident = Ident::new(key, Span::call_site());
            match opts.bounds.iter().find(|(k, _)| k == key) {
                Some((_, value)) => {
                    let text = quote!(#value).to_string().replace(' ', "");
                    bound_fields.push(quote! {
                        #ident: ::core::option::Option::Some(::brisk::params::Bound { text: #text, value: (#value) as f64 }),
                    });
                }
                None => bound_fields.push(quote!(#ident: ::core::option::Option::None,)),
            }
        }
        let min_length = some_or_none(opts.min_length.as_ref().map(|e| quote!(#e)));
        let max_length = some_or_none(opts.max_length.as_ref().map(|e| quote!(#e)));
        let pattern = some_or_none(
            opts.pattern
                .as_ref()
                .map(|p| quote!(::brisk::params::Pattern::new(#p))),
        );
        let has_default = opts.default.is_some();
        // The default's JSON form for the OpenAPI document, computed from
        // the value itself when its type is `Serialize`.
        let default_json = some_or_none(opts.default.as_ref().map(|d| {
            quote!({
                fn __brisk_default() -> ::core::option::Option<::brisk::serde_json::Value> {
                    #[allow(unused_imports)]
                    use ::brisk::params::{DefaultViaNothing as _, DefaultViaSerialize as _};
                    let value: #ty = #d;
                    (&::brisk::params::DefaultProbe(&value)).default_json()
                }
                __brisk_default as fn() -> ::core::option::Option<::brisk::serde_json::Value>
            })
        }));
        out.specs.push(quote! {
            static #spec_ident: ::brisk::params::ParamSpec = ::brisk::params::ParamSpec {
                name: #name,
                alias: #alias,
                header_name: #header_name,
                in_path: #is_path,
                has_default: #has_default,
                default_json: #default_json,
                description: #description,
                title: #title,
                deprecated: #deprecated,
                embed: #embed,
                #(#bound_fields)*
                min_length: #min_length,
                max_length: #max_length,
                pattern: #pattern,
                body_schema: ::std::sync::OnceLock::new(),
            };
        });
        let extracted_ty = match &opts.default {
            Some(_) => quote!(::core::option::Option<#ty>),
            None => quote!(#ty),
        };
        out.entries.push(quote! {
            ::brisk::params::Param {
                spec: &#spec_ident,
                // Documented as declared (`skip: i64` with a default is an
                // integer that is not required), not as the `Option` extracted.
                describe: <#ty as ::brisk::params::FromRequest>::describe,
            }
        });
        let fallback = match &opts.default {
            // A default: extract `Option<T>` and fall back to the default expression.
            Some(default) => quote!(.map(|v| v.unwrap_or_else(|| #default))),
            None => quote!(),
        };
        out.extractions.push(quote! {
            let #arg_ident: ::core::option::Option<#ty> =
                match __brisk_ex.param::<#extracted_ty>(__brisk_cx, &__BRISK_PARAMS[#i].spec).await {
                    ::core::result::Result::Ok(v) => v #fallback,
                    ::core::result::Result::Err(resp) => { #on_respond }
                };
        });
        out.args.push(arg_ident);
    }
    Ok(out)
}

/// Leaves with `<on_invalid>` if anything failed (a parameter, or a
/// side-effect dependency), else `let (Some(a), Some(b)) = (a, b)`.
fn unwrap_args(args: &[Ident], on_invalid: TokenStream2) -> TokenStream2 {
    let check = quote! {
        if __brisk_ex.failed() {
            #on_invalid
        }
    };
    if args.is_empty() {
        return check;
    }
    quote! {
        #check
        let (#(::core::option::Option::Some(#args),)*) = (#(#args,)*) else {
            #on_invalid
        };
    }
}

/// `"2s"`, `"500ms"`, `"1.5s"`, `"1m"` → seconds.
fn parse_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        return None;
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0)
        .map(|v| v * scale)
}

/// `[a, b]` as a list of paths.
fn path_list(expr: &Expr) -> syn::Result<Vec<syn::Path>> {
    match expr {
        Expr::Array(arr) => arr
            .elems
            .iter()
            .map(|e| match e {
                Expr::Path(p) => Ok(p.path.clone()),
                other => Err(syn::Error::new_spanned(other, "expected a dependency name")),
            })
            .collect(),
        other => Err(syn::Error::new_spanned(other, "expected `[dep_a, dep_b]`")),
    }
}

fn expand_route(method: &str, args: RouteArgs, mut func: ItemFn) -> syn::Result<TokenStream2> {
    let path = args.path.value();
    if !path.starts_with('/') {
        return Err(syn::Error::new_spanned(
            &args.path,
            "the path must start with `/`",
        ));
    }
    if !func.sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &func.sig.generics,
            "path operations cannot be generic",
        ));
    }
    let in_path = template_names(&path);
    check_template_names(&args.path, &in_path, &func)?;
    let fn_name = func.sig.ident.clone();
    let vis = func.vis.clone();
    let is_async = func.sig.asyncness.is_some();
    let is_websocket = method == WEBSOCKET;
    if is_websocket && !is_async {
        return Err(syn::Error::new_spanned(
            func.sig.fn_token,
            "a WebSocket operation is an `async fn` (it awaits its messages)",
        ));
    }
    // Where an early answer goes: an HTTP route returns it; a WebSocket
    // route turns it into a close with 1008.
    let respond = if is_websocket {
        quote!(return ::brisk::ws::reject(__brisk_cx, resp).await;)
    } else {
        quote!(return resp;)
    };
    let Params {
        specs,
        entries,
        extractions,
        args: arg_names,
    } = expand_params(&mut func, &in_path, &respond)?;
    let n_params = entries.len();
    let unwrap = unwrap_args(
        &arg_names,
        quote!({
            let resp = __brisk_ex.into_response_for(__brisk_cx);
            #respond
        }),
    );
    let handshake = if is_websocket {
        quote! {
            if let ::core::result::Result::Err(resp) = ::brisk::ws::handshake(__brisk_cx) {
                return resp;
            }
        }
    } else {
        quote!()
    };
    let call = if is_websocket {
        quote!(::brisk::ws::run(__brisk_cx, #fn_name(#(#arg_names),*)).await)
    } else if is_async {
        quote!(::brisk::routing::call_async(__brisk_cx, #fn_name(#(#arg_names),*)).await)
    } else {
        quote!(::brisk::routing::call_sync(__brisk_cx, move || #fn_name(#(#arg_names),*)).await)
    };

    let method_ident = Ident::new(if is_websocket { "GET" } else { method }, Span::call_site());
    let fn_name_str = fn_name.to_string();
    let mut builder = Vec::new();
    let mut description_given = false;
    for (key, value) in &args.options {
        match key.to_string().as_str() {
            "status" | "status_code" => builder.push(quote!(.status(#value))),
            "tags" => builder.push(quote!(.tags(&#value))),
            "summary" => builder.push(quote!(.summary(#value))),
            "description" => {
                description_given = true;
                builder.push(quote!(.description(#value)));
            }
            "include_in_schema" => builder.push(quote!(.include_in_schema(#value))),
            "responses" => builder.push(quote!(.responses(&#value))),
            "timeout" => {
                let text = lit_str(value)?;
                let secs = parse_duration(&text.value()).ok_or_else(|| {
                    syn::Error::new_spanned(
                        &text,
                        "expected a duration like \"2s\", \"500ms\" or \"1.5s\"",
                    )
                })?;
                builder.push(quote!(.timeout(::std::time::Duration::from_secs_f64(#secs))));
            }
            "dependencies" => {
                let deps = path_list(value)?;
                builder.push(quote!(.dependencies(::std::vec![#(::brisk::depends::DepRef::of::<#deps>()),*])));
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    key,
                    "unknown option; expected one of: status, tags, summary, description, dependencies, responses, include_in_schema, timeout",
                ));
            }
        }
    }
    let ret_ty: Type = match &func.sig.output {
        syn::ReturnType::Default => syn::parse_quote!(()),
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Some(doc) = doc_comment(&func.attrs)
        && !description_given
    {
        builder.push(quote!(.description(#doc)));
    }
    if is_websocket {
        // Out of the OpenAPI document, as in FastAPI, and never moved to the
        // thread pool by the blocking watchdog (a session would hold a pool
        // thread for its whole life).
        builder.push(quote!(.websocket()));
    }
    let response_doc = if is_websocket {
        quote!()
    } else {
        quote!(.response_doc(__brisk_response_doc))
    };

    Ok(quote! {
        #func

        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #vis struct #fn_name {}

        impl ::brisk::routing::IntoOperation for #fn_name {
            fn operation() -> ::brisk::routing::Operation {
                #(#specs)*
                static __BRISK_PARAMS: [::brisk::params::Param; #n_params] = [#(#entries),*];

                fn __brisk_handler(__brisk_cx: &mut ::brisk::params::RequestContext) -> ::brisk::routing::HandlerFuture<'_> {
                    ::std::boxed::Box::pin(async move {
                        #[allow(unused_mut)]
                        let mut __brisk_ex = ::brisk::params::Extraction::default();
                        #handshake
                        if let ::core::result::Result::Err(resp) = __brisk_ex.dependencies(__brisk_cx).await {
                            #respond
                        }
                        #(#extractions)*
                        #unwrap
                        #call
                    })
                }

                #[allow(dead_code)]
                fn __brisk_response_doc(
                    generator: &mut ::brisk::schemars::SchemaGenerator,
                ) -> ::core::option::Option<::brisk::response::doc::ResponseDoc> {
                    #[allow(unused_imports)]
                    use ::brisk::response::doc::{ViaNothing as _, ViaSchema as _};
                    (&::brisk::response::doc::Probe::<#ret_ty>::new()).response_doc(generator)
                }

                ::brisk::routing::Operation::new(
                    ::brisk::__private::http::Method::#method_ident,
                    #path,
                    #fn_name_str,
                    __brisk_handler,
                    #is_async,
                )
                .params(&__BRISK_PARAMS)
                #response_doc
                #(#builder)*
            }
        }
    })
}

/// `#[dependency]`, `#[dependency(cache = false)]`, `#[dependency(scope = "function")]`
///
/// Makes the function usable as `Depends<name>`. Its parameters follow the
/// path-operation rules; a plain `fn` runs on the thread pool, an `async fn`
/// on the event loop. It may return `T`, `Result<T, E>`, `Teardown<T>` or
/// `Result<Teardown<T>, E>`; `Depends<name>` gives the `T`.
#[proc_macro_attribute]
pub fn dependency(args: TokenStream, item: TokenStream) -> TokenStream {
    let options =
        syn::parse_macro_input!(args with Punctuated::<Meta, Token![,]>::parse_terminated);
    let func = syn::parse_macro_input!(item as ItemFn);
    match expand_dependency(options, func) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The `T` a dependency gives: its return type without `Result<_, E>` and
/// `Teardown<_>`.
fn dependency_output(ret: &syn::ReturnType) -> Type {
    fn unwrap_generic(ty: &Type, wrapper: &str) -> Option<Type> {
        let Type::Path(tp) = ty else { return None };
        let last = tp.path.segments.last()?;
        if last.ident != wrapper {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
    }
    let ty = match ret {
        syn::ReturnType::Default => return syn::parse_quote!(()),
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let ty = unwrap_generic(&ty, "Result").unwrap_or(ty);
    unwrap_generic(&ty, "Teardown").unwrap_or(ty)
}

fn expand_dependency(
    options: Punctuated<Meta, Token![,]>,
    mut func: ItemFn,
) -> syn::Result<TokenStream2> {
    let mut cached = true;
    let mut scope = quote!(::brisk::depends::Scope::Request);
    for option in options {
        let Meta::NameValue(nv) = &option else {
            return Err(syn::Error::new_spanned(
                option,
                "expected `cache = false` or `scope = \"function\"`",
            ));
        };
        let key = nv
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match (key.as_str(), &nv.value) {
            (
                "cache",
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }),
            ) => cached = b.value,
            ("scope", value) => match lit_str(value)?.value().as_str() {
                "function" => scope = quote!(::brisk::depends::Scope::Function),
                "request" => scope = quote!(::brisk::depends::Scope::Request),
                _ => {
                    return Err(syn::Error::new_spanned(
                        value,
                        "scope is \"request\" or \"function\"",
                    ));
                }
            },
            _ => {
                return Err(syn::Error::new_spanned(
                    &nv.path,
                    "expected `cache = false` or `scope = \"function\"`",
                ));
            }
        }
    }
    if !func.sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &func.sig.generics,
            "dependencies cannot be generic",
        ));
    }
    let fn_name = func.sig.ident.clone();
    let vis = func.vis.clone();
    let is_async = func.sig.asyncness.is_some();
    let output = dependency_output(&func.sig.output);
    let on_respond =
        quote!(return ::core::result::Result::Err(::brisk::params::Rejection::Respond(resp)););
    let Params {
        specs,
        entries,
        extractions,
        args: arg_names,
    } = expand_params(&mut func, &[], &on_respond)?;
    let n_params = entries.len();
    let unwrap = unwrap_args(
        &arg_names,
        quote!(return ::core::result::Result::Err(__brisk_ex.into_rejection());),
    );
    let call = if is_async {
        quote!(__brisk_cx.run_async(#fn_name(#(#arg_names),*)).await)
    } else {
        quote!(__brisk_cx.run_sync(move || #fn_name(#(#arg_names),*)).await)
    };
    let resolve = if cached {
        quote!(::brisk::depends::cached::<Self>(cx))
    } else {
        quote!(::brisk::depends::uncached::<Self>(cx))
    };
    let fn_name_str = fn_name.to_string();

    Ok(quote! {
        #func

        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #vis struct #fn_name {}

        impl ::brisk::depends::Dependency for #fn_name {
            type Output = #output;

            fn info() -> &'static ::brisk::depends::DependencyInfo {
                #(#specs)*
                static __BRISK_PARAMS: [::brisk::params::Param; #n_params] = [#(#entries),*];
                static __BRISK_INFO: ::brisk::depends::DependencyInfo = ::brisk::depends::DependencyInfo {
                    name: #fn_name_str,
                    is_async: #is_async,
                    cached: #cached,
                    params: &__BRISK_PARAMS,
                };
                &__BRISK_INFO
            }

            fn call(__brisk_cx: &mut ::brisk::params::RequestContext)
                -> ::brisk::depends::BoxFuture<'_, ::core::result::Result<#output, ::brisk::params::Rejection>>
            {
                ::std::boxed::Box::pin(async move {
                    let __BRISK_PARAMS = <Self as ::brisk::depends::Dependency>::info().params;
                    #[allow(unused_mut)]
                    let mut __brisk_ex = ::brisk::params::Extraction::default();
                    #(#extractions)*
                    #unwrap
                    let __brisk_out = #call;
                    ::brisk::depends::IntoDependencyResult::<#output>::finish(__brisk_out, __brisk_cx, #scope)
                })
            }

            fn resolve(cx: &mut ::brisk::params::RequestContext)
                -> ::brisk::depends::BoxFuture<'_, ::core::result::Result<#output, ::brisk::params::Rejection>>
            {
                ::std::boxed::Box::pin(#resolve)
            }
        }
    })
}
