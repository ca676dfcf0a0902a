//! `GET /api/v1/openapi.json`, generated from the route table so it lists
//! every route the router answers (a test checks that). Request and
//! response schemas come from the handlers' types through [`aide`]: a
//! handler's `StrictJson<T>`, `StrictQuery<T>` and `Json<T>` answer name
//! `T`, whose schema `schemars` derives (see [`crate::http::docs`]). This module
//! adds what types cannot say: the summary, who may call the route, and
//! path parameters.

use aide::axum::ApiRouter;
use aide::openapi::{Info, OpenApi};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::route_table;
use crate::http::docs::{Documented, OpenApiDocument};
use crate::http::{Access, AppState};

/// The OpenAPI document.
pub fn build(config: &crate::config::Config) -> Value {
    // OpenAPI 3.1 schemas are JSON Schema 2020-12 (aide starts from
    // draft 7, whose tuples are not valid 2020-12). aide reads the
    // handlers' types while the table is built, so this comes first.
    aide::generate::in_context(|ctx| {
        ctx.schema = schemars::SchemaGenerator::new(
            schemars::generate::SchemaSettings::draft2020_12().with(|s| {
                s.inline_subschemas = false;
                s.definitions_path = "#/components/schemas/".into();
            }),
        );
    });
    let table = route_table(config);
    let mut described = Vec::with_capacity(table.len());
    let mut router: ApiRouter<AppState> = ApiRouter::new();
    for route in table {
        described.push((
            route.method.clone(),
            route.path,
            route.summary,
            route.access,
        ));
        router = router.api_route(route.path, route.handler);
    }
    let mut api = OpenApi {
        info: Info {
            title: "ledcast server API".to_owned(),
            version: "1".to_owned(),
            ..Info::default()
        },
        ..OpenApi::default()
    };
    let _ = router.finish_api(&mut api);
    let mut doc = serde_json::to_value(&api).unwrap_or_else(|_| json!({}));
    doc["openapi"] = json!("3.1.0");
    doc["components"]["securitySchemes"] = json!({
        "session": {"type": "apiKey", "in": "cookie", "name": crate::http::extract::SESSION_COOKIE,
                    "description": "the web UI's session (POST /api/v1/login); changes also need X-CSRF-Token"},
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "an API token for scripts (POST /api/v1/tokens)"},
        "device": {"type": "apiKey", "in": "header", "name": "x-ledcast-signature",
                   "description": "an enrolled agent: x-ledcast-key-id, x-ledcast-timestamp and this ed25519 signature"}
    });
    if let Some(object) = doc.as_object_mut() {
        object.remove("jsonSchemaDialect");
    }
    for (method, path, summary, access) in described {
        let Some(operation) = doc
            .pointer_mut(&format!(
                "/paths/{}/{}",
                path.replace('~', "~0").replace('/', "~1"),
                method.as_str().to_lowercase()
            ))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        operation.insert("summary".to_owned(), json!(summary));
        operation.insert(
            "security".to_owned(),
            match access {
                Access::Public => json!([]),
                Access::Device => json!([{"device": []}]),
                _ => json!([{"session": []}, {"bearer": []}]),
            },
        );
        operation.insert(
            "description".to_owned(),
            json!(format!(
                "Access: {}. Refusals are JSON {{error, detail, hint}}.",
                access_words(access)
            )),
        );
        // The access gate, the body limit and the extractors can refuse any
        // route, whatever its handler returns.
        if let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            responses.entry("default").or_insert_with(refusal_response);
        }
        let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
        if let Some(list) = parameters.as_array_mut() {
            for name in path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            {
                let known = list.iter().any(|p| p["in"] == "path" && p["name"] == name);
                if !known {
                    list.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
                }
            }
            if list.is_empty() {
                operation.remove("parameters");
            }
        }
    }
    doc
}

/// What every refusal looks like.
fn refusal_response() -> Value {
    json!({
        "description": "refused: `error` is a stable code, `detail` says what went wrong, `hint` what to do",
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["error", "detail", "hint"],
            "properties": {
                "error": {"type": "string"},
                "detail": {"type": "string"},
                "hint": {"type": "string"}
            }
        }}}
    })
}

fn access_words(access: Access) -> String {
    match access {
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
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn document(State(state): State<AppState>) -> Documented<OpenApiDocument> {
    Documented::new(Json(build(&state.config)).into_response())
}
