//! `GET /api/v1/openapi.json`, generated from the route table so it lists
//! every route the router answers (a test checks that). Request and
//! response schemas are described in words (summary + access), not typed.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{route_table, Access, AppState};

/// The OpenAPI document.
pub fn build(config: &crate::config::Config) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in route_table(config) {
        let access = match route.access {
            Access::Public => "public".to_owned(),
            Access::Device => {
                "device signature (x-ledcast-key-id, x-ledcast-timestamp, x-ledcast-signature)"
                    .to_owned()
            }
            Access::AnyUser => "any signed-in user".to_owned(),
            Access::SiteScoped => {
                "any signed-in user; branch users only for their own sites".to_owned()
            }
            Access::Roles(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                format!("roles: {}", names.join(", "))
            }
        };
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method.as_str().to_lowercase()] = json!({
            "summary": route.summary,
            "description": format!("Access: {access}. Errors are JSON {{error, detail, hint}}."),
            "parameters": parameters,
            "responses": {"default": {"description": "see summary; 4xx bodies are {error, detail, hint}"}},
        });
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "ledcast server API", "version": "1"},
        "paths": paths,
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document(State(state): State<AppState>) -> Json<Value> {
    Json(build(&state.config))
}
