//! Test-only: every answer the in-process router tests get is checked
//! against the schema the OpenAPI document gives for that route and
//! status, so the document cannot drift from what handlers send.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

/// The document, built once from the default configuration.
fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| crate::router::openapi::build(&crate::config::Config::default()))
}

/// The route template (`/api/v1/screens/{id}`) that `path` matches.
fn template(doc: &Value, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let want: Vec<&str> = path.split('/').collect();
    let paths = doc["paths"].as_object()?;
    // Literal segments beat parameters (`/materials/expiring` over `/materials/{id}`).
    let mut best: Option<(usize, &String)> = None;
    for candidate in paths.keys() {
        let have: Vec<&str> = candidate.split('/').collect();
        if have.len() != want.len() {
            continue;
        }
        let mut literal = 0;
        let fits = have.iter().zip(&want).all(|(h, w)| {
            if h.starts_with('{') {
                !w.is_empty()
            } else {
                literal += 1;
                h == w
            }
        });
        if fits && best.is_none_or(|(n, _)| literal > n) {
            best = Some((literal, candidate));
        }
    }
    best.map(|(_, t)| t.clone())
}

/// Panics when a JSON `body` does not fit what the document promises for
/// `method path` answering `status`.
pub(crate) fn check(method: &str, path: &str, status: u16, content_type: &str, body: &[u8]) {
    if !content_type.starts_with("application/json") || body.is_empty() {
        return;
    }
    let doc = document();
    let Some(template) = template(doc, path) else {
        return; // not a route: the router's own 404
    };
    let operation = &doc["paths"][&template][method.to_lowercase()];
    if operation.is_null() {
        return; // 405
    }
    let responses = &operation["responses"];
    let response = [status.to_string(), "default".to_owned()]
        .iter()
        .map(|key| &responses[key])
        .find(|r| !r.is_null())
        .cloned()
        .unwrap_or_else(|| {
            panic!("{method} {template} answered {status}, which its OpenAPI entry does not list: {responses}")
        });
    let Some(schema) = response
        .pointer("/content/application~1json/schema")
        .cloned()
    else {
        panic!("{method} {template} answered {status} with JSON, but its OpenAPI entry has no JSON schema for it: {response}")
    };
    let key = format!("{method} {template} {status}");
    static VALIDATORS: OnceLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let validators = VALIDATORS.get_or_init(Default::default);
    let validator = {
        let mut cache = validators.lock().unwrap();
        cache
            .entry(key.clone())
            .or_insert_with(|| {
                let root = json!({"components": doc["components"].clone(), "allOf": [schema]});
                std::sync::Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .build(&root)
                        .unwrap_or_else(|e| panic!("{key}: the schema does not compile: {e}")),
                )
            })
            .clone()
    };
    let instance: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{key}: the body is not JSON ({e})"));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect();
    assert!(
        errors.is_empty(),
        "{key}: the answer does not fit its OpenAPI schema:\n  {}\nbody: {}",
        errors.join("\n  "),
        String::from_utf8_lossy(&body[..body.len().min(800)])
    );
}
