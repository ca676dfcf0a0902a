//! The server's one route table and its router: the API's rows
//! ([`crate::http::api_routes`]), the web UI's ([`crate::web::routes`]) and
//! this API's own OpenAPI document. The table feeds the router, the access
//! gate, the OpenAPI document and the route × role matrix test, so a route
//! cannot exist without being listed. It sits above both `http` and `web`,
//! so neither imports the other's routes.

pub mod openapi;

use aide::axum::routing::get;
use axum::http::Method;
use axum::Router;

use crate::config::Config;
use crate::http::{extract, route, system, Access, AppState, Route};

/// Every route the server answers. [`app`] is built from this table only.
pub fn route_table(config: &Config) -> Vec<Route> {
    let mut table = crate::http::api_routes(config);
    table.push(route(
        Method::GET,
        "/api/v1/openapi.json",
        "this API as OpenAPI 3.1",
        Access::Public,
        get(openapi::document),
    ));
    table.extend(crate::web::routes(config));
    table
}

/// The router for `state`, built from [`route_table`].
pub fn app(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for route in route_table(&state.config) {
        let access = route.access;
        let gate = axum::middleware::from_fn_with_state(state.clone(), move |s, req, next| {
            extract::access_gate(s, access, req, next)
        });
        let handler: axum::routing::MethodRouter<AppState> = route.handler.into();
        router = router.route(route.path, handler.route_layer(gate));
    }
    let metrics = state.metrics.clone();
    router
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        // Browsers on UI pages get the login page or an HTML error instead of JSON.
        .layer(axum::middleware::from_fn(crate::web::html_errors))
        .layer(axum::middleware::from_fn(move |req, next| {
            let metrics = metrics.clone();
            system::count_and_harden(metrics, req, next)
        }))
        .with_state(state)
}
