//! The router driven in-process with `oneshot`, on SQLite and (when
//! `LEDCAST_TEST_DATABASE_URL` is set) PostgreSQL: the route × role ×
//! other-site matrix, media serving, enrollment, signed screenshots,
//! sessions with CSRF, login throttling, apply/export and rotations.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use ed25519_dalek::SigningKey;
use ledcast_protocol::v1 as protocol;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{Access, AppState};
use crate::config::Config;
use crate::media_store::ContentStore;
use crate::router::{app, route_table};
use crate::store::testing::{backends, TestDb};
use crate::store::{NewUser, ProfileRow, Role, ScreenRow, SiteRow};

/// An `AppState` over `store` with its media, screenshots and data under
/// `dir` and default configuration: what every in-process router test
/// starts from.
pub(crate) async fn test_state(store: &crate::store::Store, dir: &std::path::Path) -> AppState {
    let (events, _) = tokio::sync::broadcast::channel(64);
    AppState {
        store: store.clone(),
        media: ContentStore::open(dir.join("media")).await.unwrap(),
        screenshots: ContentStore::open(dir.join("screenshots")).await.unwrap(),
        config: Arc::new(Config {
            data_dir: dir.to_owned(),
            ..Config::default()
        }),
        signing_key: Arc::new(SigningKey::from_bytes(&[9; 32])),
        events,
        public_url: "http://ledcast.test".into(),
        metrics: Default::default(),
        compile_lock: Default::default(),
        announced: Default::default(),
        clock: crate::clock::Clock::pinned(TEST_NOW),
    }
}

/// The instant every `test_state` starts at: Monday 2026-11-30 10:00 in
/// Shanghai, inside the sample pack's and the demo materials' validity.
/// Tests move it with `state.clock.set`/`advance`; none reads the wall clock,
/// so they pass on whatever day they run.
pub(crate) const TEST_NOW: protocol::Timestamp = protocol::Timestamp(1_796_004_000_000);

/// Creates each `(name, role, sites)` user with the Bearer token
/// `token-{name}`.
pub(crate) async fn add_users(store: &crate::store::Store, users: &[(&str, Role, Vec<String>)]) {
    for (name, role, sites) in users {
        store
            .create_user(NewUser {
                id: name,
                username: name,
                password_hash: "x",
                role: *role,
                sites,
                now: 1,
            })
            .await
            .unwrap();
        store
            .create_api_token(
                name,
                &crate::auth::token_sha256(&format!("token-{name}")),
                name,
                "test",
                1,
            )
            .await
            .unwrap();
    }
}

struct Harness {
    state: AppState,
    db: Option<TestDb>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new(db: TestDb) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(&db.store, dir.path()).await;
        Harness {
            state,
            db: Some(db),
            _dir: dir,
        }
    }

    async fn finish(mut self) {
        if let Some(db) = self.db.take() {
            db.finish().await;
        }
    }

    fn name(&self) -> &'static str {
        self.db.as_ref().map(|d| d.name).unwrap_or("?")
    }

    /// Sends `request`; returns once what it asked of the recompiler is
    /// on the rotations (handlers return before the compile).
    /// Every JSON answer is checked against the route's OpenAPI schema.
    async fn send(&self, request: Request<Body>) -> Response {
        let method = request.method().to_string();
        let path = request.uri().path().to_owned();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        self.state.compile_lock.settle_all().await;
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        super::schema_tests::check(&method, &path, parts.status.as_u16(), content_type, &bytes);
        Response::from_parts(parts, Body::from(bytes))
    }

    /// Sites a and b, screens `screen-a` (site a) and `screen-b` (site b),
    /// one user per role with a Bearer token `token-{name}`.
    async fn seed(&self) {
        let store = &self.state.store;
        for site in ["site-a", "site-b"] {
            store
                .upsert_site(
                    &SiteRow {
                        id: site.into(),
                        organisation_id: "bank".into(),
                        name: site.into(),
                    },
                    1,
                )
                .await
                .unwrap();
        }
        store
            .upsert_profile(&ProfileRow {
                id: "door".into(),
                width: 352,
                height: 80,
                color_class: "mono".into(),
                can_play_video: false,
                can_scroll: true,
            })
            .await
            .unwrap();
        for (screen, site) in [("screen-a", "site-a"), ("screen-b", "site-b")] {
            store
                .upsert_screen(
                    &ScreenRow {
                        id: screen.into(),
                        site_id: site.into(),
                        name: screen.into(),
                        profile_id: "door".into(),
                        tags: vec![],
                        timezone: "Asia/Shanghai".into(),
                        opening_hours: String::new(),
                    },
                    1,
                )
                .await
                .unwrap();
        }
        add_users(
            store,
            &[
                ("admin", Role::Admin, vec![]),
                ("editor", Role::Editor, vec![]),
                ("editor2", Role::Editor, vec![]),
                ("approver", Role::Approver, vec![]),
                ("branch-a", Role::Branch, vec!["site-a".to_owned()]),
                ("branch-b", Role::Branch, vec!["site-b".to_owned()]),
            ],
        )
        .await;
    }
}

fn request(method: Method, uri: &str, actor: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(actor) = actor {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer token-{actor}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

async fn body_bytes(response: Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}

async fn body_json(response: Response) -> Value {
    serde_json::from_slice(&body_bytes(response).await).unwrap_or(Value::Null)
}

/// What each actor may do on a route, as the matrix states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Anyone; never 401/403 for lack of a user.
    Public,
    /// Only an enrolled device (users get 401).
    Device,
    /// Any signed-in user.
    AnyUser,
    /// Signed-in; the resource is site-a's, so branch-b is refused (403).
    SiteA,
    /// Signed-in listing; branch-b gets 200 but must not see site-a's data.
    SiteList,
    /// Only these roles.
    Roles(&'static [&'static str]),
}

pub(crate) const STAFF: &[&str] = &["admin", "editor", "editor2", "approver"];
pub(crate) const EDIT: &[&str] = &["admin", "editor", "editor2"];
pub(crate) const APPROVE: &[&str] = &["admin", "approver"];
pub(crate) const ADMIN: &[&str] = &["admin"];

/// One matrix row: method, route path, the path the matrix requests, rule.
pub(crate) type MatrixRow = (&'static str, &'static str, &'static str, Rule);

/// Every route, with the request the matrix sends and the rule it checks.
/// A route in the router but not here fails `matrix_lists_every_route`.
fn matrix() -> Vec<MatrixRow> {
    use Rule::*;
    let mut rows = vec![
        ("GET", "/healthz", "/healthz", Public),
        ("GET", "/readyz", "/readyz", Public),
        ("GET", "/metrics", "/metrics", Public),
        (
            "GET",
            "/api/v1/openapi.json",
            "/api/v1/openapi.json",
            Public,
        ),
        ("GET", "/media/{sha256}", "/media/SHA", Public),
        ("POST", "/api/v1/login", "/api/v1/login", Public),
        ("POST", "/api/v1/logout", "/api/v1/logout", AnyUser),
        ("GET", "/api/v1/me", "/api/v1/me", AnyUser),
        ("GET", "/api/v1/tokens", "/api/v1/tokens", AnyUser),
        ("POST", "/api/v1/tokens", "/api/v1/tokens", AnyUser),
        (
            "DELETE",
            "/api/v1/tokens/{id}",
            "/api/v1/tokens/none",
            AnyUser,
        ),
        ("GET", "/api/v1/users", "/api/v1/users", Roles(ADMIN)),
        ("POST", "/api/v1/users", "/api/v1/users", Roles(ADMIN)),
        (
            "POST",
            "/api/v1/users/{id}/unlock",
            "/api/v1/users/none/unlock",
            Roles(ADMIN),
        ),
        (
            "POST",
            "/api/v1/users/{id}/disable",
            "/api/v1/users/none/disable",
            Roles(ADMIN),
        ),
        (
            "POST",
            "/api/v1/users/{id}/enable",
            "/api/v1/users/none/enable",
            Roles(ADMIN),
        ),
        (
            "POST",
            "/api/v1/users/{id}/password",
            "/api/v1/users/none/password",
            Roles(ADMIN),
        ),
        ("GET", "/api/v1/audit", "/api/v1/audit", Roles(ADMIN)),
        ("GET", "/api/v1/sites", "/api/v1/sites", SiteList),
        ("GET", "/api/v1/profiles", "/api/v1/profiles", AnyUser),
        ("GET", "/api/v1/screens", "/api/v1/screens", SiteList),
        (
            "GET",
            "/api/v1/screens/{id}",
            "/api/v1/screens/screen-a",
            SiteA,
        ),
        (
            "GET",
            "/api/v1/screens/{id}/plays",
            "/api/v1/screens/screen-a/plays",
            SiteA,
        ),
        (
            "GET",
            "/api/v1/play-days",
            "/api/v1/play-days?site=site-a&from=2026-12-01&until=2026-12-02",
            SiteA,
        ),
        (
            "GET",
            "/api/v1/screens/{id}/screenshots",
            "/api/v1/screens/screen-a/screenshots",
            SiteA,
        ),
        (
            "GET",
            "/api/v1/screens/{id}/screenshots/{sha256}",
            "/api/v1/screens/screen-a/screenshots/SHA",
            SiteA,
        ),
        (
            "POST",
            "/api/v1/screens/{id}/enrollment",
            "/api/v1/screens/screen-a/enrollment",
            Roles(ADMIN),
        ),
        ("POST", "/api/v1/enroll", "/api/v1/enroll", Public),
        (
            "POST",
            "/api/v1/screens/{id}/commands",
            "/api/v1/screens/screen-a/commands",
            Roles(EDIT),
        ),
        (
            "GET",
            "/api/v1/screens/{id}/rotation",
            "/api/v1/screens/screen-a/rotation",
            Public,
        ),
        (
            "POST",
            "/api/v1/screens/{id}/screenshots",
            "/api/v1/screens/screen-a/screenshots",
            Device,
        ),
        (
            "POST",
            "/api/v1/materials",
            "/api/v1/materials",
            Roles(EDIT),
        ),
        (
            "GET",
            "/api/v1/materials",
            "/api/v1/materials",
            Roles(STAFF),
        ),
        (
            "GET",
            "/api/v1/materials/{id}",
            "/api/v1/materials/m1",
            Roles(STAFF),
        ),
        (
            "POST",
            "/api/v1/materials/{id}/approve",
            "/api/v1/materials/m1/approve",
            Roles(APPROVE),
        ),
        (
            "POST",
            "/api/v1/materials/{id}/reject",
            "/api/v1/materials/m1/reject",
            Roles(APPROVE),
        ),
        (
            "POST",
            "/api/v1/materials/{id}/retire",
            "/api/v1/materials/m1/retire",
            Roles(EDIT),
        ),
        ("POST", "/api/v1/apply", "/api/v1/apply", Roles(EDIT)),
        ("GET", "/api/v1/export", "/api/v1/export", Roles(STAFF)),
        (
            "GET",
            "/api/v1/playlists",
            "/api/v1/playlists",
            Roles(STAFF),
        ),
        ("GET", "/api/v1/rules", "/api/v1/rules", Roles(STAFF)),
        ("POST", "/api/v1/alerts", "/api/v1/alerts", Roles(EDIT)),
        ("POST", "/api/v1/packs", "/api/v1/packs", Roles(EDIT)),
        (
            "GET",
            "/api/v1/materials/expiring",
            "/api/v1/materials/expiring?days=7",
            Roles(STAFF),
        ),
        (
            "GET",
            "/api/v1/feed/warnings",
            "/api/v1/feed/warnings?channel=online-transfer&lang=zh-CN",
            Public,
        ),
        ("GET", "/embed/warning", "/embed/warning", Public),
        ("GET", "/api/v1/alerts", "/api/v1/alerts", Roles(STAFF)),
        (
            "GET",
            "/api/v1/recompile",
            "/api/v1/recompile",
            Roles(STAFF),
        ),
        (
            "POST",
            "/api/v1/alerts/{id}/end",
            "/api/v1/alerts/none/end",
            Roles(EDIT),
        ),
        (
            "GET",
            "/api/v1/schedules",
            "/api/v1/schedules",
            Roles(STAFF),
        ),
        (
            "POST",
            "/api/v1/schedules/{id}/approve",
            "/api/v1/schedules/none/approve",
            Roles(APPROVE),
        ),
        (
            "POST",
            "/api/v1/schedules/{id}/reject",
            "/api/v1/schedules/none/reject",
            Roles(APPROVE),
        ),
    ];
    rows.extend(super::presence::matrix_rows());
    rows.extend(super::compliance::matrix_rows());
    rows.extend(super::editions::matrix_rows());
    rows.extend(crate::web::matrix_rows());
    rows
}

#[test]
fn matrix_lists_every_route_and_nothing_else() {
    let routes: BTreeSet<(String, String)> = route_table(&Config::default())
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let listed: BTreeSet<(String, String)> = matrix()
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = routes.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the matrix: {missing:?}"
    );
    assert!(stale.is_empty(), "matrix rows without a route: {stale:?}");
}

#[test]
fn route_access_in_the_table_matches_the_matrix() {
    for route in route_table(&Config::default()) {
        let rule = matrix()
            .into_iter()
            .find(|(m, p, _, _)| *m == route.method.as_str() && *p == route.path)
            .map(|row| row.3)
            .unwrap();
        let consistent = match (route.access, rule) {
            (Access::Public, Rule::Public) | (Access::Device, Rule::Device) => true,
            (
                Access::AnyUser | Access::SiteScoped,
                Rule::AnyUser | Rule::SiteA | Rule::SiteList,
            ) => true,
            (Access::Roles(roles), Rule::Roles(names)) => {
                let mut a: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                let mut b: Vec<&str> = names.iter().filter(|n| **n != "editor2").copied().collect();
                a.sort();
                b.sort();
                a == b
            }
            _ => false,
        };
        assert!(
            consistent,
            "{} {}: table says {:?}, matrix says {rule:?}",
            route.method, route.path, route.access
        );
    }
}

const ACTORS: [Option<&str>; 7] = [
    None,
    Some("branch-b"),
    Some("branch-a"),
    Some("approver"),
    Some("editor"),
    Some("editor2"),
    Some("admin"),
];

/// The material list and decisions speak the words they always did
/// (`poster`, `text`, `pending`, `approved`), filter by them, and a word
/// that names no kind or state matches nothing.
#[tokio::test]
async fn materials_api_keeps_its_words_for_kinds_and_states() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    for (id, kind) in [
        ("m-poster", crate::store::MaterialKind::Poster),
        ("m-text", crate::store::MaterialKind::Text),
    ] {
        let material = crate::store::MaterialRow {
            id: id.into(),
            sha256: "ab".repeat(32),
            kind,
            title: id.into(),
            tags: vec![],
            source: String::new(),
            mime: "image/png".into(),
            size_bytes: 12,
            width: None,
            height: None,
            duration_ms: None,
            valid_from: None,
            valid_until: None,
            state: crate::store::MaterialState::Pending,
            uploaded_by: "editor".into(),
            uploaded_at: 1,
            decided_by: None,
            decided_at: None,
            is_warning: true,
        };
        h.state.store.insert_material(&material).await.unwrap();
    }
    let approve = "/api/v1/materials/m-text/approve";
    let response = h
        .send(request(
            Method::POST,
            approve,
            Some("approver"),
            Some(json!({})),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["state"], "approved");
    async fn list(h: &Harness, query: &str) -> Vec<String> {
        let uri = format!("/api/v1/materials{query}");
        let response = h
            .send(request(Method::GET, &uri, Some("editor"), None))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let body = body_json(response).await;
        body.as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{} {} {}",
                    m["id"].as_str().unwrap(),
                    m["kind"].as_str().unwrap(),
                    m["state"].as_str().unwrap()
                )
            })
            .collect()
    }
    assert_eq!(
        list(&h, "").await,
        ["m-poster poster pending", "m-text text approved"]
    );
    assert_eq!(list(&h, "?kind=text").await, ["m-text text approved"]);
    assert_eq!(
        list(&h, "?state=pending").await,
        ["m-poster poster pending"]
    );
    assert_eq!(
        list(&h, "?state=approved&kind=poster").await,
        Vec::<String>::new()
    );
    assert!(list(&h, "?kind=banner").await.is_empty());
    assert!(list(&h, "?state=Approved").await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn route_role_site_matrix_allows_exactly_what_it_lists() {
    for db in backends().await {
        let h = Harness::new(db).await;
        h.seed().await;
        let media = h.state.media.put(b"poster bytes").await.unwrap().to_hex();
        h.state
            .store
            .register_media(&media, "image/png", 12, 1)
            .await
            .unwrap();
        h.state
            .store
            .add_screenshot("screen-a", &media, 12, 1, 1, 5)
            .await
            .unwrap();
        let material = crate::store::MaterialRow {
            id: "m1".into(),
            sha256: media.clone(),
            kind: crate::store::MaterialKind::Poster,
            title: "t".into(),
            tags: vec![],
            source: String::new(),
            mime: "image/png".into(),
            size_bytes: 12,
            width: None,
            height: None,
            duration_ms: None,
            valid_from: None,
            valid_until: None,
            state: crate::store::MaterialState::Pending,
            uploaded_by: "editor2".into(),
            uploaded_at: 1,
            decided_by: None,
            decided_at: None,
            is_warning: true,
        };
        h.state.store.insert_material(&material).await.unwrap();
        let mut cross_site_successes = Vec::new();
        for (method, path, uri, rule) in matrix() {
            let uri = uri.replace("SHA", &media);
            for actor in ACTORS {
                let method: Method = method.parse().unwrap();
                let body = (method == Method::POST || method == Method::DELETE).then(|| json!({}));
                let response = h.send(request(method.clone(), &uri, actor, body)).await;
                let status = response.status();
                let text = String::from_utf8_lossy(&body_bytes(response).await).into_owned();
                let denied = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
                let expect_allowed = match (rule, actor) {
                    (Rule::Public, _) => true,
                    (Rule::Device, _) => false,
                    (_, None) => false,
                    (Rule::AnyUser | Rule::SiteList, Some(_)) => true,
                    (Rule::SiteA, Some(a)) => a != "branch-b",
                    (Rule::Roles(roles), Some(a)) => roles.contains(&a),
                };
                assert_eq!(
                    !denied,
                    expect_allowed,
                    "{}: {method} {path} as {actor:?} answered {status}: {text}",
                    h.name()
                );
                if denied {
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    assert!(
                        body["error"].is_string()
                            && body["detail"].is_string()
                            && body["hint"].is_string(),
                        "{method} {path} as {actor:?}: 4xx without {{error, detail, hint}}: {text}"
                    );
                }
                if actor == Some("branch-b")
                    && !denied
                    && rule != Rule::Public
                    && (text.contains("site-a") || text.contains("screen-a"))
                {
                    cross_site_successes.push(format!("{method} {path}"));
                }
            }
        }
        assert!(
            cross_site_successes.is_empty(),
            "branch-b read site-a data via {cross_site_successes:?}"
        );
        h.finish().await;
    }
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let doc = crate::router::openapi::build(&Config::default());
    for route in route_table(&Config::default()) {
        let entry = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
        assert!(
            entry["summary"].is_string(),
            "{} {} missing from openapi.json",
            route.method,
            route.path
        );
    }
}

/// Issue 18: the document says what each route answers, from the
/// handlers' types: a 2xx (or redirect) with a content type and a schema
/// for every route, a JSON schema wherever the answer is JSON, a request
/// body wherever the handler reads one, and every `$ref` resolves.
#[tokio::test]
async fn openapi_gives_every_route_its_answer_schema() {
    let doc = crate::router::openapi::build(&Config::default());
    let mut missing = Vec::new();
    for route in route_table(&Config::default()) {
        let method = route.method.as_str().to_lowercase();
        let op = &doc["paths"][route.path][&method];
        let responses = op["responses"].as_object().cloned().unwrap_or_default();
        let success: Vec<(&String, &Value)> = responses
            .iter()
            .filter(|(code, _)| code.starts_with('2') || code.starts_with('3'))
            .collect();
        if success.is_empty() {
            missing.push(format!("{method} {}: no 2xx/3xx answer", route.path));
        }
        for (code, answer) in success {
            let redirect = code.starts_with('3');
            let content = answer["content"].as_object().cloned().unwrap_or_default();
            if content.is_empty() && !redirect && code != "204" {
                missing.push(format!("{method} {} {code}: no content type", route.path));
            }
            for (media, body) in content {
                if body["schema"].is_null() {
                    missing.push(format!("{method} {} {code} {media}: no schema", route.path));
                }
                let schema = body["schema"].to_string();
                if media == "application/json" && (schema == "true" || schema == "{}") {
                    missing.push(format!("{method} {} {code}: JSON of any shape", route.path));
                }
            }
        }
        let reads_body = route.method == Method::POST && !op["requestBody"].is_null();
        if route.method == Method::POST && !reads_body && route.summary.contains("(body") {
            missing.push(format!(
                "{method} {}: says it reads a body, documents none",
                route.path
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "routes without a documented answer:\n{}",
        missing.join("\n")
    );
    // Every reference points at a schema the document holds.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap_or_default();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "$ref to {name}, which components.schemas does not hold"
        );
    }
}

#[tokio::test]
async fn media_is_served_immutable_with_ranges_and_etag() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let sha = h.state.media.put(&bytes).await.unwrap().to_hex();
    let uri = format!("/media/{sha}");
    // Present on disk but not registered: not served.
    let response = h.send(request(Method::GET, &uri, None, None)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    h.state
        .store
        .register_media(&sha, "image/png", 1000, 1)
        .await
        .unwrap();

    let response = h.send(request(Method::GET, &uri, None, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::ETAG], format!("\"{sha}\"").as_str());
    assert!(headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CONTENT_LENGTH], "1000");
    assert_eq!(body_bytes(response).await, bytes);

    let ranged = Request::builder()
        .uri(&uri)
        .header(header::RANGE, "bytes=900-")
        .body(Body::empty())
        .unwrap();
    let response = h.send(ranged).await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()[header::CONTENT_RANGE],
        "bytes 900-999/1000"
    );
    assert_eq!(body_bytes(response).await, &bytes[900..]);

    let beyond = Request::builder()
        .uri(&uri)
        .header(header::RANGE, "bytes=1000-")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        h.send(beyond).await.status(),
        StatusCode::RANGE_NOT_SATISFIABLE
    );

    let cached = Request::builder()
        .uri(&uri)
        .header(header::IF_NONE_MATCH, format!("\"{sha}\""))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(cached).await.status(), StatusCode::NOT_MODIFIED);

    let head = h.send(request(Method::HEAD, &uri, None, None)).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], "1000");
    assert!(body_bytes(head).await.is_empty());

    let bad = h
        .send(request(
            Method::GET,
            "/media/..%2Fkeys%2Fserver.key",
            None,
            None,
        ))
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    h.finish().await;
}

fn device_headers(
    builder: axum::http::request::Builder,
    key: &SigningKey,
    screen: &str,
    at: i64,
    body: &[u8],
) -> axum::http::request::Builder {
    let screen = protocol::ScreenId::new(screen).unwrap();
    let digest = protocol::Sha256(
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(body)).into(),
    );
    let signature = protocol::sign_upload(key, &screen, protocol::Timestamp(at), &digest);
    builder
        .header(
            protocol::HEADER_KEY_ID,
            protocol::key_id_for(&key.verifying_key()),
        )
        .header(protocol::HEADER_TIMESTAMP, at.to_string())
        .header(protocol::HEADER_SIGNATURE, signature)
}

async fn enroll(
    h: &Harness,
    screen: &str,
    device: &SigningKey,
) -> Result<protocol::EnrollResponse, (StatusCode, Value)> {
    let response = h
        .send(request(
            Method::POST,
            &format!("/api/v1/screens/{screen}/enrollment"),
            Some("admin"),
            Some(json!({})),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let code = body_json(response).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"code": code.to_lowercase(), "device_public_key_hex": hex::encode(device.verifying_key().as_bytes())});
    let response = h
        .send(request(
            Method::POST,
            "/api/v1/enroll",
            None,
            Some(body.clone()),
        ))
        .await;
    let status = response.status();
    if status != StatusCode::OK {
        return Err((status, body_json(response).await));
    }
    let enrolled: protocol::EnrollResponse =
        serde_json::from_slice(&body_bytes(response).await).unwrap();
    // The same code a second time is refused.
    let again = h
        .send(request(Method::POST, "/api/v1/enroll", None, Some(body)))
        .await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    Ok(enrolled)
}

#[tokio::test]
async fn enrollment_then_signed_screenshots_and_reenrollment_revokes() {
    for db in backends().await {
        let h = Harness::new(db).await;
        h.seed().await;
        let device = SigningKey::from_bytes(&[3; 32]);
        let enrolled = enroll(&h, "screen-a", &device).await.unwrap();
        assert_eq!(enrolled.screen_id.as_str(), "screen-a");
        assert_eq!(enrolled.broker_url, "mqtt://127.0.0.1:1883");
        assert_eq!(enrolled.media_base_url, "http://ledcast.test");
        assert_eq!(
            enrolled.server_public_key_hex,
            hex::encode(h.state.signing_key.verifying_key().as_bytes())
        );
        assert_eq!(enrolled.broker_password.len(), 48);
        let stored = h.state.store.device_key("screen-a").await.unwrap().unwrap();
        assert_eq!(
            stored.broker_password_sha256,
            crate::auth::token_sha256(&enrolled.broker_password)
        );
        assert_eq!(
            stored.public_key_hex,
            hex::encode(device.verifying_key().as_bytes())
        );

        let png = b"\x89PNG\r\n\x1a\nfake frame".to_vec();
        let now = h.state.clock.now().as_millis();
        let upload = |key: &SigningKey, at: i64, body: Vec<u8>| {
            device_headers(
                Request::builder()
                    .method(Method::POST)
                    .uri("/api/v1/screens/screen-a/screenshots"),
                key,
                "screen-a",
                at,
                &body,
            )
            .body(Body::from(body))
            .unwrap()
        };
        let ok = h.send(upload(&device, now, png.clone())).await;
        assert_eq!(ok.status(), StatusCode::CREATED, "{}", h.name());
        let stale = h.send(upload(&device, now - 6 * 60_000, png.clone())).await;
        assert_eq!(
            stale.status(),
            StatusCode::UNAUTHORIZED,
            "a signature 6 minutes old is refused"
        );
        let stranger = SigningKey::from_bytes(&[4; 32]);
        assert_eq!(
            h.send(upload(&stranger, now, png.clone())).await.status(),
            StatusCode::UNAUTHORIZED
        );
        // A body swapped after signing is refused.
        let mut tampered = upload(&device, now, png.clone());
        *tampered.body_mut() = Body::from(b"\x89PNG\r\n\x1a\nother frame".to_vec());
        assert_eq!(h.send(tampered).await.status(), StatusCode::UNAUTHORIZED);
        let listed = body_json(
            h.send(request(
                Method::GET,
                "/api/v1/screens/screen-a/screenshots",
                Some("branch-a"),
                None,
            ))
            .await,
        )
        .await;
        assert_eq!(listed.as_array().unwrap().len(), 1);

        // Re-enrolling gives a new key; the old device's signatures stop working.
        let replacement = SigningKey::from_bytes(&[5; 32]);
        enroll(&h, "screen-a", &replacement).await.unwrap();
        assert_eq!(
            h.send(upload(&device, now, png.clone())).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            h.send(upload(&replacement, now, png.clone()))
                .await
                .status(),
            StatusCode::CREATED
        );
        h.finish().await;
    }
}

#[tokio::test]
async fn oversized_bodies_get_413_from_content_length_alone() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    // Declares 3 MiB but sends nothing: answered without waiting for the body.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/screens/screen-a/screenshots")
        .header(header::CONTENT_LENGTH, (3 * 1024 * 1024).to_string())
        .body(Body::empty())
        .unwrap();
    let response = h.send(request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = body_json(response).await;
    assert!(
        body["detail"].as_str().unwrap().contains("2097152"),
        "{body}"
    );
    h.finish().await;
}

#[tokio::test]
async fn unknown_json_fields_are_refused_with_their_name() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let response = h
        .send(request(
            Method::POST,
            "/api/v1/tokens",
            Some("editor"),
            Some(json!({"name": "x", "nmae": "y"})),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body_json(response).await;
    assert!(body["detail"].as_str().unwrap().contains("nmae"), "{body}");
    h.finish().await;
}

/// The editor `li` with the password "a long enough password" (login tests).
async fn add_editor_li(h: &Harness) {
    h.state
        .store
        .create_user(NewUser {
            id: "u1",
            username: "li",
            password_hash: &crate::auth::hash_password("a long enough password"),
            role: Role::Editor,
            sites: &[],
            now: 1,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_need_csrf_for_changes_and_logins_are_throttled() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    add_editor_li(&h).await;
    let login = |password: &str| {
        request(
            Method::POST,
            "/api/v1/login",
            None,
            Some(json!({"username": "li", "password": password})),
        )
    };
    let response = h.send(login("a long enough password")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let csrf = body_json(response).await["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let with_cookie = |method: Method, uri: &str, csrf: Option<&str>| {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &session);
        if let Some(csrf) = csrf {
            b = b.header(super::extract::CSRF_HEADER, csrf);
        }
        b.header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"name": "script"}).to_string()))
            .unwrap()
    };
    assert_eq!(
        h.send(with_cookie(Method::GET, "/api/v1/me", None))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        h.send(with_cookie(Method::POST, "/api/v1/tokens", None))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.send(with_cookie(Method::POST, "/api/v1/tokens", Some("wrong")))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.send(with_cookie(Method::POST, "/api/v1/tokens", Some(&csrf)))
            .await
            .status(),
        StatusCode::CREATED
    );

    for _ in 0..5 {
        assert_eq!(
            h.send(login("wrong password!")).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = h.send(login("a long enough password")).await;
    assert_eq!(
        throttled.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let audit = h.state.store.audit_log(100, None).await.unwrap();
    assert!(audit.iter().filter(|a| a.action == "login.failed").count() >= 5);
    assert!(audit
        .iter()
        .any(|a| a.action == "token.create" && a.actor == "li"));
    h.finish().await;
}

/// Issue 17, items 4 and 5: 40 wrong passwords sent at once are not all
/// checked (each attempt is reserved before the slow check), and failures
/// from one address do not lock the account for another address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_reserved_first_and_counted_per_account_and_address() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    add_editor_li(&h).await;
    let login_from =
        |password: &str, ip: [u8; 4]| {
            let mut request = request(
                Method::POST,
                "/api/v1/login",
                None,
                Some(json!({"username": "li", "password": password})),
            );
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from((ip, 40_000)),
            ));
            request
        };
    let attacker = [203, 0, 113, 7];
    let mut passwords: Vec<String> = (0..40).map(|i| format!("wrong guess number {i}")).collect();
    passwords.push("a long enough password".into());
    let handles: Vec<_> = passwords
        .iter()
        .map(|password| {
            let (router, request) = (app(h.state.clone()), login_from(password, attacker));
            tokio::spawn(async move { router.oneshot(request).await.unwrap().status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap());
    }
    let checked = statuses
        .iter()
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        checked <= 5,
        "at most the allowed 5 attempts are checked, not {checked}: {statuses:?}"
    );
    let throttled = h.send(login_from("a long enough password", attacker)).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = body_json(throttled).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("15 分钟") && detail.contains("15 minutes"),
        "the page says how long to wait: {detail}"
    );
    // The clerk at the branch, on another address, is not locked out.
    let clerk = [198, 51, 100, 20];
    let response = h.send(login_from("a long enough password", clerk)).await;
    assert_eq!(response.status(), StatusCode::OK, "another address logs in");
    h.finish().await;
}

/// Issue 17, item 5: the Users page shows who is locked out, from where and
/// until when, and an admin's unlock lets the right password in at once
/// from the same address; only an admin may unlock.
#[tokio::test]
async fn an_admin_sees_a_locked_user_on_the_users_page_and_unlocks_them() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    add_editor_li(&h).await;
    let login_from =
        |password: &str| {
            let mut request = request(
                Method::POST,
                "/api/v1/login",
                None,
                Some(json!({"username": "li", "password": password})),
            );
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([198, 51, 100, 9], 40_000)),
            ));
            request
        };
    for _ in 0..5 {
        assert_eq!(
            h.send(login_from("a typo of the password")).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        h.send(login_from("a long enough password")).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "locked out"
    );

    let page = h
        .send(request(Method::GET, "/ui/users", Some("admin"), None))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = String::from_utf8(body_bytes(page).await).unwrap();
    let row = html
        .split("<tr>")
        .find(|row| row.contains("<td>li</td>"))
        .expect("li's row");
    assert!(row.contains("已锁定"), "{row}");
    assert!(row.contains("198.51.100.9 输错密码 5 次"), "{row}");
    assert!(
        row.contains("class=\"unlock-user\" data-user=\"u1\""),
        "{row}"
    );
    let others = html
        .split("<tr>")
        .filter(|row| row.contains("<td>editor</td>"))
        .collect::<Vec<_>>();
    assert!(
        others.iter().all(|row| !row.contains("已锁定")),
        "{others:?}"
    );

    assert_eq!(
        h.send(request(
            Method::POST,
            "/api/v1/users/u1/unlock",
            Some("editor"),
            None
        ))
        .await
        .status(),
        StatusCode::FORBIDDEN,
        "an editor cannot unlock"
    );
    let unlocked = h
        .send(request(
            Method::POST,
            "/api/v1/users/u1/unlock",
            Some("admin"),
            None,
        ))
        .await;
    assert_eq!(unlocked.status(), StatusCode::OK);
    assert_eq!(body_json(unlocked).await["unlocked_addresses"], 1);
    assert_eq!(
        h.send(login_from("a long enough password")).await.status(),
        StatusCode::OK,
        "the right password works again from the same address"
    );
    let page = h
        .send(request(Method::GET, "/ui/users", Some("admin"), None))
        .await;
    let html = String::from_utf8(body_bytes(page).await).unwrap();
    assert!(!html.contains("已锁定"), "no lock is left on the page");
    let audit = h.state.store.audit_log(50, None).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "user.unlock" && a.actor == "admin" && a.target == "li"));
    h.finish().await;
}

/// Issue 19, point 4: an admin disables a user, and the user's open
/// session and API token stop working at once; their right password gets a
/// clear "disabled" answer (a wrong one still only "wrong password"); an
/// admin cannot disable themself; enabling lets the user log in again; a
/// password reset gives a new password once, the old one stops working.
#[tokio::test]
async fn a_disabled_user_is_refused_at_once_and_a_reset_password_replaces_the_old_one() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    add_editor_li(&h).await;
    h.state
        .store
        .create_api_token(
            "t-li",
            &crate::auth::token_sha256("token-li"),
            "u1",
            "script",
            1,
        )
        .await
        .unwrap();
    let login = |password: &str| {
        request(
            Method::POST,
            "/api/v1/login",
            None,
            Some(json!({"username": "li", "password": password})),
        )
    };
    let response = h.send(login("a long enough password")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me_by_session = || {
        Request::builder()
            .uri("/api/v1/me")
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(h.send(me_by_session()).await.status(), StatusCode::OK);
    assert_eq!(
        h.send(request(Method::GET, "/api/v1/me", Some("li"), None))
            .await
            .status(),
        StatusCode::OK
    );

    let own = h
        .send(request(
            Method::POST,
            "/api/v1/users/admin/disable",
            Some("admin"),
            None,
        ))
        .await;
    assert_eq!(own.status(), StatusCode::CONFLICT);
    assert_eq!(body_json(own).await["error"], "own_account");
    assert!(h
        .state
        .store
        .user_by_id("admin")
        .await
        .unwrap()
        .unwrap()
        .disabled_at
        .is_none());

    let disabled = h
        .send(request(
            Method::POST,
            "/api/v1/users/u1/disable",
            Some("admin"),
            None,
        ))
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(
        h.send(me_by_session()).await.status(),
        StatusCode::UNAUTHORIZED,
        "the open session ends at once"
    );
    assert_eq!(
        h.send(request(Method::GET, "/api/v1/me", Some("li"), None))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the API token is refused at once"
    );
    let refused = h.send(login("a long enough password")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_json(refused).await["error"], "account_disabled");
    let guessed = h.send(login("somebody's guess")).await;
    assert_eq!(guessed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body_json(guessed).await["error"],
        "bad_credentials",
        "a guesser learns nothing about the account"
    );

    let enabled = h
        .send(request(
            Method::POST,
            "/api/v1/users/u1/enable",
            Some("admin"),
            None,
        ))
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);
    assert_eq!(
        h.send(me_by_session()).await.status(),
        StatusCode::UNAUTHORIZED,
        "enabling does not bring the old session back"
    );
    assert_eq!(
        h.send(login("a long enough password")).await.status(),
        StatusCode::OK
    );

    let reset = h
        .send(request(
            Method::POST,
            "/api/v1/users/u1/password",
            Some("admin"),
            None,
        ))
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    let password = body_json(reset).await["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(password.len() >= 12, "{password}");
    assert_eq!(
        h.send(login("a long enough password")).await.status(),
        StatusCode::UNAUTHORIZED,
        "the old password stops working"
    );
    assert_eq!(h.send(login(&password)).await.status(), StatusCode::OK);
    let audit = h.state.store.audit_log(100, None).await.unwrap();
    for action in ["user.disable", "user.enable", "user.password_reset"] {
        assert!(
            audit
                .iter()
                .any(|a| a.action == action && a.actor == "admin" && a.target == "li"),
            "{action} not audited"
        );
    }
    assert!(
        audit.iter().all(|a| !a.detail.contains(&password)),
        "the new password is not in the audit log"
    );
    h.finish().await;
}

/// Issue 17, item 1: on the embedded broker a device logs in only with its
/// own client id; with another screen's it would kick that screen off and
/// fire its signed Last Will.
#[tokio::test]
async fn a_device_logs_in_to_the_embedded_broker_only_with_its_own_client_id() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    for screen in ["screen-a", "screen-b"] {
        h.state
            .store
            .insert_device_key(
                crate::store::NewDeviceKey {
                    screen_id: screen,
                    key_id: &format!("ed25519:{screen}"),
                    public_key_hex: &"00".repeat(32),
                    broker_username: &super::agent::broker_username(screen),
                    broker_password_sha256: &crate::auth::token_sha256(&format!("pw-{screen}")),
                    broker_password_mosquitto: None,
                },
                1,
            )
            .await
            .unwrap();
    }
    let store = Arc::new(std::sync::OnceLock::new());
    let _ = store.set(h.state.store.clone());
    let auth = crate::push::server_glue::broker_auth(store, "server-secret".into());
    let login = |client_id: &str, username: &str, password: &str| {
        auth(client_id.into(), username.into(), password.into())
    };
    assert_eq!(
        login("ledcast-agent-screen-a", "screen-screen-a", "pw-screen-a").await,
        Some(crate::push::BrokerLogin::Device(
            protocol::ScreenId::new("screen-a").unwrap()
        ))
    );
    assert!(
        login("ledcast-agent-screen-b", "screen-screen-a", "pw-screen-a")
            .await
            .is_none(),
        "screen-a's login with screen-b's client id is refused"
    );
    assert!(login("anything-else", "screen-screen-a", "pw-screen-a")
        .await
        .is_none());
    assert!(login("ledcast-agent-screen-a", "screen-screen-a", "wrong")
        .await
        .is_none());
    assert_eq!(
        login(
            "ledcast-server-plays-3",
            crate::push::SERVER_BROKER_USERNAME,
            "server-secret"
        )
        .await,
        Some(crate::push::BrokerLogin::Server)
    );
    h.finish().await;
}

#[tokio::test]
async fn the_uploader_cannot_approve_their_own_material() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let mut material = crate::store::MaterialRow {
        id: "m1".into(),
        sha256: "ab".repeat(32),
        kind: crate::store::MaterialKind::Poster,
        title: "t".into(),
        tags: vec![],
        source: String::new(),
        mime: "image/png".into(),
        size_bytes: 1,
        width: None,
        height: None,
        duration_ms: None,
        valid_from: None,
        valid_until: None,
        state: crate::store::MaterialState::Pending,
        uploaded_by: "approver".into(),
        uploaded_at: 1,
        decided_by: None,
        decided_at: None,
        is_warning: true,
    };
    h.state.store.insert_material(&material).await.unwrap();
    material.id = "m2".into();
    material.uploaded_by = "editor".into();
    h.state.store.insert_material(&material).await.unwrap();
    let own = h
        .send(request(
            Method::POST,
            "/api/v1/materials/m1/approve",
            Some("approver"),
            Some(json!({})),
        ))
        .await;
    assert_eq!(own.status(), StatusCode::FORBIDDEN);
    let other = h
        .send(request(
            Method::POST,
            "/api/v1/materials/m2/approve",
            Some("approver"),
            Some(json!({})),
        ))
        .await;
    assert_eq!(other.status(), StatusCode::OK);
    let again = h
        .send(request(
            Method::POST,
            "/api/v1/materials/m2/approve",
            Some("admin"),
            Some(json!({})),
        ))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let audit = h.state.store.audit_log(10, None).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "material.approved" && a.actor == "approver" && a.target == "m2"));
    h.finish().await;
}

fn playlist_files() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../playlists");
    let mut files: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && !p.ends_with("materials.toml"))
        .map(|p| json!({"name": p.file_name().unwrap().to_str().unwrap(), "text": std::fs::read_to_string(&p).unwrap()}))
        .collect();
    files.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    files
}

#[tokio::test]
async fn invalid_toml_returns_diagnostics_with_line_and_column_and_stores_nothing() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let files =
        json!([{"name": "schedules.toml", "text": "[[schedules]]\nid = \"x\"\nplaylist = \n"}]);
    let response = h
        .send(request(
            Method::POST,
            "/api/v1/apply",
            Some("editor"),
            Some(json!({"files": files})),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = body_json(response).await;
    let first = body["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap()
        .clone();
    assert_eq!(first["location"]["file"], "schedules.toml", "{body}");
    assert!(first["location"]["line"].as_u64().unwrap() >= 3, "{body}");
    assert!(first["location"]["column"].as_u64().unwrap() >= 1, "{body}");
    assert!(body["hint"].is_string());
    assert!(h.state.store.playlist_files().await.unwrap().is_empty());
    h.finish().await;
}

#[tokio::test]
async fn apply_dry_run_shows_the_diff_and_export_gives_back_what_was_applied() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let files = playlist_files();
    let response = h
        .send(request(
            Method::POST,
            "/api/v1/apply",
            Some("editor"),
            Some(json!({"files": files, "dry_run": true})),
        ))
        .await;
    let status = response.status();
    let body = body_json(response).await;
    // Without uploaded materials the demo playlists reference unknown
    // materials: the compiler reports them and nothing is stored.
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["message"].as_str().unwrap().contains("unknown material")));
    assert!(body["diff"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["change"] == "added"));
    // Stored directly, exported verbatim.
    let stored: Vec<crate::store::PlaylistFile> = serde_json::from_value(json!(files)).unwrap();
    h.state
        .store
        .replace_playlist_files(&stored, "editor", 1)
        .await
        .unwrap();
    let exported = body_json(
        h.send(request(
            Method::GET,
            "/api/v1/export",
            Some("approver"),
            None,
        ))
        .await,
    )
    .await;
    assert_eq!(exported["files"], json!(files));
    h.finish().await;
}

#[tokio::test]
async fn demo_materials_then_apply_gives_signed_versioned_rotations_per_screen() {
    for db in backends().await {
        let h = Harness::new(db).await;
        h.seed().await;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let materials =
            std::fs::read_to_string(format!("{root}/playlists/materials.toml")).unwrap();
        let (imported, _, problems) = crate::materials::import_materials_file(
            &h.state,
            &materials,
            std::path::Path::new(&format!("{root}/media")),
            "editor",
            "approver",
        )
        .await
        .unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(imported >= 5, "imported {imported}");
        let mut events = h.state.events.subscribe();

        let files = playlist_files();
        let response = h
            .send(request(
                Method::POST,
                "/api/v1/apply",
                Some("editor"),
                Some(json!({"files": files})),
            ))
            .await;
        let status = response.status();
        let body = body_json(response).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", h.name());
        assert_eq!(body["applied"], true);
        let stored = body["stored"].as_array().unwrap().clone();
        assert!(!stored.is_empty(), "{body}");
        let playlists = body_json(
            h.send(request(
                Method::GET,
                "/api/v1/playlists",
                Some("approver"),
                None,
            ))
            .await,
        )
        .await;
        assert!(
            playlists
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == "standard-warnings"),
            "{playlists}"
        );
        let rules = body_json(
            h.send(request(
                Method::GET,
                "/api/v1/rules",
                Some("approver"),
                None,
            ))
            .await,
        )
        .await;
        assert!(!rules.as_array().unwrap().is_empty(), "{rules}");
        // Every schedule waits for a second person; the applier cannot approve.
        let pending: Vec<String> = body["pending_schedules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert!(!pending.is_empty(), "{body}");
        let own = h
            .send(request(
                Method::POST,
                &format!("/api/v1/schedules/{}/approve", pending[0]),
                Some("admin"),
                Some(json!({})),
            ))
            .await;
        assert_eq!(
            own.status(),
            StatusCode::OK,
            "admin did not apply, so may approve"
        );
        let mut h_events_drain = 0;
        while events.try_recv().is_ok() {
            h_events_drain += 1;
        }
        assert!(h_events_drain >= stored.len());
        let stored_after_first_approval = h.state.store.screen_versions().await.unwrap();
        for id in &pending[1..] {
            let response = h
                .send(request(
                    Method::POST,
                    &format!("/api/v1/schedules/{id}/approve"),
                    Some("approver"),
                    Some(json!({})),
                ))
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{id}");
        }
        let listed = body_json(
            h.send(request(
                Method::GET,
                "/api/v1/schedules",
                Some("approver"),
                None,
            ))
            .await,
        )
        .await;
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["state"] == "approved"),
            "{listed}"
        );
        assert!(!stored_after_first_approval.is_empty());
        let versions_now = h.state.store.screen_versions().await.unwrap();
        assert!(
            versions_now
                .iter()
                .any(|v| v.desired_version.unwrap_or(0) > 1),
            "approving schedules changes some screen's rotation: {versions_now:?}"
        );

        let trusted = protocol::TrustedKey::new(h.state.signing_key.verifying_key());
        let screens = h.state.store.list_screens(None).await.unwrap();
        let demo: Vec<_> = screens
            .iter()
            .filter(|s| !s.id.starts_with("screen-"))
            .collect();
        assert!(demo.len() >= 3);
        for screen in &demo {
            let response = h
                .send(request(
                    Method::GET,
                    &format!("/api/v1/screens/{}/rotation", screen.id),
                    None,
                    None,
                ))
                .await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{} has no rotation",
                screen.id
            );
            let envelope = body_bytes(response).await;
            let rotation: protocol::Rotation = protocol::open(&envelope, &trusted).unwrap();
            assert_eq!(rotation.screen_id.as_str(), screen.id);
            let latest = h
                .state
                .store
                .latest_rotation(&screen.id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(rotation.version, latest.version);
            assert_eq!(envelope, latest.envelope, "served byte for byte as stored");
            // Every media item the rotation names is served.
            for media in &rotation.media {
                let response = h
                    .send(request(
                        Method::GET,
                        &format!("/media/{}", media.sha256),
                        None,
                        None,
                    ))
                    .await;
                assert_eq!(
                    response.status(),
                    StatusCode::OK,
                    "{}: media {} missing",
                    screen.id,
                    media.sha256
                );
                assert_eq!(body_bytes(response).await.len() as u64, media.size_bytes);
            }
        }
        // The publisher heard about every version stored by the approvals.
        let mut announced = 0;
        while let Ok(crate::events::ServerEvent::RotationStored { .. }) = events.try_recv() {
            announced += 1;
        }
        assert!(announced >= 1, "approvals announced no new rotation");

        // Another hour: new versions; again within that hour: none.
        h.state.clock.advance(3_600_000);
        let t = h.state.clock.now(); // 2026-11-30T11:00+08:00
        let report = crate::recompiler::recompile(&h.state, t).await.unwrap();
        assert_eq!(report.stored.len(), report.screens, "{:?}", report.stored);
        let report = crate::recompiler::recompile(&h.state, t.plus_ms(10 * 60_000))
            .await
            .unwrap();
        assert!(
            report.stored.is_empty(),
            "same inputs, same hour: {:?}",
            report.stored
        );
        let before_retire = h.state.store.screen_versions().await.unwrap();
        // A retired material changes content now: new versions.
        let retire = h
            .send(request(
                Method::POST,
                "/api/v1/materials/w48-investment/retire",
                Some("editor"),
                Some(json!({})),
            ))
            .await;
        assert_eq!(retire.status(), StatusCode::OK);
        let versions = h.state.store.screen_versions().await.unwrap();
        let changed = versions
            .iter()
            .zip(&before_retire)
            .filter(|(now, before)| now.desired_version > before.desired_version)
            .count();
        assert!(changed >= 1, "{}: {versions:?}", h.name());
        assert!(versions
            .iter()
            .zip(&before_retire)
            .all(|(now, before)| now.desired_version.unwrap_or(0)
                <= before.desired_version.unwrap_or(0) + 1));
        // An urgent alert reaches its screen's rotation at once, and leaves when ended.
        let until = h.state.clock.now().as_millis() + 3_600_000;
        let response = h
            .send(request(
                Method::POST,
                "/api/v1/alerts",
                Some("editor"),
                Some(json!({"material_id": "std-text-96110", "targets": {"screens": ["hall-wall"]}, "until": until})),
            ))
            .await;
        let status = response.status();
        let alert = body_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{alert}");
        let latest = h
            .state
            .store
            .latest_rotation("hall-wall")
            .await
            .unwrap()
            .unwrap();
        let rotation: protocol::Rotation = protocol::open(&latest.envelope, &trusted).unwrap();
        let top = rotation.blocks.iter().max_by_key(|b| b.priority).unwrap();
        assert!(
            top.slots.iter().all(|s| s.material_id == "std-text-96110"),
            "{:?}",
            top.slots
        );
        let ended = h
            .send(request(
                Method::POST,
                &format!("/api/v1/alerts/{}/end", alert["id"].as_str().unwrap()),
                Some("editor"),
                Some(json!({})),
            ))
            .await;
        assert_eq!(ended.status(), StatusCode::OK);
        let after = h
            .state
            .store
            .latest_rotation("hall-wall")
            .await
            .unwrap()
            .unwrap();
        assert!(after.version > latest.version);
        h.finish().await;
    }
}

/// Issue 17, item 8: uploads beyond `uploads_at_once` wait for a place and
/// are then answered 429 with when to try again, in Chinese first; once a
/// place is free, an upload goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_beyond_the_places_get_429_with_a_retry_hint_and_later_go_through() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let mut state = h.state.clone();
    let mut config = (*state.config).clone();
    config.limits.uploads_at_once = 1;
    config.limits.upload_wait_seconds = 1;
    state.config = Arc::new(config);
    let router = app(state);
    let poster = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../media/posters/w48-refund.png"
    ))
    .unwrap();
    let upload = |body: Body| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/materials")
            .header(header::AUTHORIZATION, "Bearer token-editor")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(body)
            .unwrap()
    };
    let head =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\"\r\n\r\n";
    // A slow client: sends the start of its upload, then nothing for now.
    use tokio::io::AsyncWriteExt;
    let (mut slow_tx, slow_rx) = tokio::io::duplex(1 << 20);
    slow_tx.write_all(head).await.unwrap();
    let stream = tokio_util::io::ReaderStream::new(slow_rx);
    let slow = tokio::spawn(router.clone().oneshot(upload(Body::from_stream(stream))));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let mut full = head.to_vec();
    full.extend_from_slice(&poster);
    // The same poster as the slow client's: a second copy on purpose.
    full.extend_from_slice(
        b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"allow_duplicate\"\r\n\r\ntrue",
    );
    full.extend_from_slice(b"\r\n--XyZ--\r\n");
    let busy = router
        .clone()
        .oneshot(upload(Body::from(full.clone())))
        .await
        .unwrap();
    assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(busy.headers()[header::RETRY_AFTER], "30");
    let body = body_json(busy).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("服务器正在处理其他上传") && detail.contains("30 秒后重试"),
        "{detail}"
    );
    assert_eq!(body["retry_after_seconds"], 30);

    // The slow client finishes; its place is free again.
    let mut rest = poster.clone();
    rest.extend_from_slice(b"\r\n--XyZ--\r\n");
    slow_tx.write_all(&rest).await.unwrap();
    drop(slow_tx);
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), StatusCode::CREATED);
    let retried = router.oneshot(upload(Body::from(full))).await.unwrap();
    assert_ne!(retried.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retried.status().is_success(), "{}", retried.status());
    h.finish().await;
}

#[tokio::test]
async fn upload_route_ingests_and_refuses_what_the_pipeline_refuses() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let multipart = |fields: &[(&str, Option<&str>, &[u8])]| {
        let mut body = Vec::new();
        for (name, file_name, bytes) in fields {
            body.extend_from_slice(b"--XyZ\r\n");
            match file_name {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/materials")
            .header(header::AUTHORIZATION, "Bearer token-editor")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::from(body))
            .unwrap()
    };
    let poster = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../media/posters/w48-refund.png"
    ))
    .unwrap();
    let response = h
        .send(multipart(&[
            ("id", None, b"w48-refund"),
            ("title", None, "网购退款".as_bytes()),
            ("file", Some("../../etc/passwd.png"), &poster),
        ]))
        .await;
    let status = response.status();
    let body = body_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sha = body["material"]["sha256"].as_str().unwrap();
    assert!(h
        .state
        .media
        .path_of(&protocol::Sha256::from_hex(sha).unwrap())
        .exists());
    assert_eq!(body["material"]["state"], "pending");
    assert_eq!(
        body["renditions_made"], 1,
        "one rendition for the one stored profile"
    );

    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>";
    let response = h.send(multipart(&[("file", Some("x.png"), svg)])).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = body_json(response).await;
    assert!(
        body["detail"].as_str().unwrap().contains("unsupported"),
        "{body}"
    );

    let response = h
        .send(multipart(&[
            ("file", Some("a.png"), &poster),
            ("colour", None, b"red"),
        ]))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    h.finish().await;
}

#[tokio::test]
async fn versions_stored_by_another_process_are_announced_once() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let mut events = h.state.events.subscribe();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(crate::recompiler::watch_stored_versions(
        h.state.clone(),
        stopping,
    ));
    // As if `ledcast-server apply` stored it from another process.
    h.state
        .store
        .store_rotation_if_changed("screen-a", "c1", 1, 2, |v| format!("env-{v}").into_bytes())
        .await
        .unwrap()
        .unwrap();
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv())
        .await
        .expect("announced within the poll interval")
        .unwrap();
    match event {
        crate::events::ServerEvent::RotationStored {
            screen_id,
            version,
            envelope,
        } => {
            assert_eq!((screen_id.as_str(), version), ("screen-a", 1));
            assert_eq!(envelope.as_slice(), b"env-1");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Nothing new: nothing announced again.
    let again = tokio::time::timeout(std::time::Duration::from_secs(3), events.recv()).await;
    assert!(again.is_err(), "announced twice: {again:?}");
    stop.send_replace(true);
    tokio::time::timeout(std::time::Duration::from_secs(5), watcher)
        .await
        .expect("the watcher stops when told")
        .unwrap();
    h.finish().await;
}

#[tokio::test]
async fn commands_are_signed_for_the_screen_and_handed_to_the_publisher() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let mut events = h.state.events.subscribe();
    let response = h
        .send(request(
            Method::POST,
            "/api/v1/screens/screen-a/commands",
            Some("editor"),
            Some(json!({"action": "screenshot"})),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let trusted = protocol::TrustedKey::new(h.state.signing_key.verifying_key());
    match events.try_recv().unwrap() {
        crate::events::ServerEvent::Command {
            screen_id,
            envelope,
        } => {
            assert_eq!(screen_id.as_str(), "screen-a");
            let command: protocol::Command = protocol::open(&envelope, &trusted).unwrap();
            assert_eq!(command.action, protocol::CommandAction::Screenshot);
            assert_eq!(command.screen_id.as_str(), "screen-a");
            assert!(command.expires_at > command.issued_at);
        }
        other => panic!("unexpected {other:?}"),
    }
    let bad = h
        .send(request(
            Method::POST,
            "/api/v1/screens/screen-a/commands",
            Some("editor"),
            Some(json!({"action": "reboot"})),
        ))
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    h.finish().await;
}

fn sample_pack_zip() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../media/packs/gaogang-2026-W48.zip"
    ))
    .unwrap()
}

#[tokio::test]
async fn sample_pack_imports_pending_with_its_metadata_and_twice_changes_nothing() {
    for db in backends().await {
        let h = Harness::new(db).await;
        h.seed().await;
        let pack = ledcast_pack::open_zip(&sample_pack_zip(), &ledcast_pack::PackLimits::default())
            .unwrap();
        let mut seen = Vec::new();
        let report = crate::packs::import_pack(&h.state, &pack, "editor", |done, total, _| {
            seen.push((done, total))
        })
        .await
        .unwrap();
        assert_eq!(
            report.to_string(),
            "import edition=gaogang-2026-W48 imported=6 duplicates=0 refused=0"
        );
        assert_eq!(seen.last(), Some(&(6, 6)), "progress reaches the end");
        let first = &pack.entries[0].material;
        let row = h
            .state
            .store
            .material("gaogang-2026-W48-001")
            .await
            .unwrap()
            .expect("stable id {edition}-001");
        assert_eq!(
            row.state,
            crate::store::MaterialState::Pending,
            "packs wait for approval"
        );
        assert_eq!(row.source, "gaogang-2026-W48");
        assert_eq!(row.title, first.title);
        assert_eq!(
            row.tags.first().map(String::as_str),
            ledcast_pack::category_slug(&first.category),
            "the playlists' category slug comes first (the compiler's category)"
        );
        assert!(row.tags.contains(&first.category), "{:?}", row.tags);
        assert!(row.tags.contains(&"edition:gaogang-2026-W48".to_owned()));
        assert!(
            row.tags.contains(&"county-pack".to_owned()),
            "the demo playlists select county-pack materials"
        );
        for screen in &first.screens {
            assert!(
                row.tags.contains(&format!("screen:{screen}")),
                "{:?}",
                row.tags
            );
        }
        assert_eq!(row.valid_from, Some(first.valid_from.timestamp_millis()));
        assert_eq!(row.valid_until, Some(first.valid_until.timestamp_millis()));
        let before = h
            .state
            .store
            .list_materials(&Default::default())
            .await
            .unwrap();
        let again = crate::packs::import_pack(&h.state, &pack, "editor", |_, _, _| {})
            .await
            .unwrap();
        assert_eq!(
            again.to_string(),
            "import edition=gaogang-2026-W48 imported=0 duplicates=6 refused=0"
        );
        let after = h
            .state
            .store
            .list_materials(&Default::default())
            .await
            .unwrap();
        assert_eq!(before, after, "a second import changes nothing");
        h.finish().await;
    }
}

fn zip_request(actor: &str, bytes: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/api/v1/packs")
        .header(header::AUTHORIZATION, format!("Bearer token-{actor}"))
        .header(header::CONTENT_TYPE, "application/zip")
        .body(Body::from(bytes))
        .unwrap()
}

fn zip_slip_pack() -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    out.start_file("pack.toml", options).unwrap();
    out.write_all(b"edition = \"evil-2026-W48\"\n").unwrap();
    out.start_file("../../evil.txt", options).unwrap();
    out.write_all(b"escaped").unwrap();
    out.finish().unwrap().into_inner()
}

#[tokio::test]
async fn pack_upload_imports_for_editors_only_and_refuses_a_zip_slip_writing_nothing() {
    for db in backends().await {
        let h = Harness::new(db).await;
        h.seed().await;
        let refused = h.send(zip_request("branch-a", sample_pack_zip())).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let slip = h.send(zip_request("editor", zip_slip_pack())).await;
        let status = slip.status();
        let body = body_json(slip).await;
        assert!(status.is_client_error(), "{status}: {body}");
        assert!(
            body["error"].is_string() && body["hint"].is_string(),
            "{body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("../../evil.txt"),
            "the detail names the escaping entry: {body}"
        );
        assert!(
            h.state
                .store
                .list_materials(&Default::default())
                .await
                .unwrap()
                .is_empty(),
            "a refused pack stores nothing"
        );
        let data_dir = &h.state.config.data_dir;
        for escaped in [
            data_dir.join("evil.txt"),
            data_dir.parent().unwrap().join("evil.txt"),
        ] {
            assert!(!escaped.exists(), "{} was written", escaped.display());
        }
        let ok = h.send(zip_request("editor", sample_pack_zip())).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let report = body_json(ok).await;
        assert_eq!(
            report["summary"],
            "import edition=gaogang-2026-W48 imported=6 duplicates=0 refused=0"
        );
        assert_eq!(report["rows"].as_array().unwrap().len(), 6);
        let again = body_json(h.send(zip_request("admin", sample_pack_zip())).await).await;
        assert_eq!(
            again["summary"],
            "import edition=gaogang-2026-W48 imported=0 duplicates=6 refused=0"
        );
        let pending = h
            .state
            .store
            .list_materials(&crate::store::MaterialFilter {
                state: Some(crate::store::MaterialState::Pending),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(pending.len(), 6);
        assert!(pending.iter().all(|m| m.uploaded_by == "editor"));
        h.finish().await;
    }
}

async fn text_material(h: &Harness, id: &str, text: &str, from: i64, until: i64, warning: bool) {
    let meta = crate::materials::MaterialMeta {
        id: id.into(),
        title: format!("title {id}"),
        tags: vec!["冒充客服".into()],
        source: "test".into(),
        valid_from: Some(from),
        valid_until: Some(until),
        is_warning: warning,
    };
    crate::materials::import_material(&h.state, "w.txt", text.as_bytes().to_vec(), meta, "editor")
        .await
        .unwrap();
}

#[tokio::test]
async fn warning_feed_shows_only_approved_current_texts_with_etag_cors_and_an_embed_page() {
    for db in backends().await {
        let mut h = Harness::new(db).await;
        h.seed().await;
        let mut config = (*h.state.config).clone();
        config.feed.allowed_origins = vec!["https://ebank.example.com".into()];
        h.state.config = Arc::new(config);
        let now = h.state.clock.now().as_millis();
        let (from, until) = (now - 3_600_000, now + 3_600_000);
        text_material(
            &h,
            "current",
            "客服说退款<b>先挂电话</b> & 核实",
            from,
            until,
            true,
        )
        .await;
        text_material(&h, "pending", "待审核的提醒不能出现", from, until, true).await;
        text_material(&h, "expired", "过期的提醒不能出现", from, now - 1, true).await;
        text_material(
            &h,
            "future",
            "未生效的提醒不能出现",
            now + 60_000,
            until,
            true,
        )
        .await;
        text_material(&h, "notice", "营业时间九点到五点", from, until, false).await;
        // approved and current, but its playlist is scheduled on 2030-01-01 only
        let meta = crate::materials::MaterialMeta {
            id: "not-scheduled".into(),
            title: "title not-scheduled".into(),
            tags: vec!["刷单返利".into()],
            source: "test".into(),
            valid_from: Some(from),
            valid_until: None,
            is_warning: true,
        };
        crate::materials::import_material(
            &h.state,
            "w.txt",
            "刷单都是诈骗，现在不该出现".as_bytes().to_vec(),
            meta,
            "editor",
        )
        .await
        .unwrap();
        for id in ["current", "expired", "future", "notice", "not-scheduled"] {
            assert!(h
                .state
                .store
                .decide_material(
                    id,
                    crate::store::MaterialState::Pending,
                    crate::store::MaterialState::Approved,
                    "approver",
                    now
                )
                .await
                .unwrap());
        }
        assert!(
            super::feed::current_warnings(&h.state, now)
                .await
                .unwrap()
                .is_empty(),
            "nothing is scheduled for the channel yet"
        );
        super::feed::apply_test_channel(&h.state).await;
        let new_year_2030 = 1_893_470_400_000; // 2030-01-01T12:00:00+08:00
        assert_eq!(
            super::feed::current_warnings(&h.state, new_year_2030)
                .await
                .unwrap()
                .into_iter()
                .map(|w| w.id)
                .collect::<Vec<_>>(),
            ["not-scheduled"],
            "on 2030-01-01 the higher-priority schedule's texts, only"
        );

        let ids = |ws: Vec<super::feed::Warning>| ws.into_iter().map(|w| w.id).collect::<Vec<_>>();
        let at = |t: i64| super::feed::current_warnings(&h.state, t);
        let shows_current = |ws: Vec<super::feed::Warning>| ws.iter().any(|w| w.id == "current");
        assert_eq!(
            ids(at(now).await.unwrap()),
            ["current"],
            "only approved, current warning texts"
        );
        assert!(
            shows_current(at(from).await.unwrap()),
            "shown from valid_from"
        );
        assert!(
            !shows_current(at(from - 1).await.unwrap()),
            "not a millisecond early"
        );
        assert!(shows_current(at(until - 1).await.unwrap()));
        assert!(
            !shows_current(at(until).await.unwrap()),
            "gone at the exact valid_until instant"
        );

        let uri = "/api/v1/feed/warnings?channel=online-transfer&lang=zh-CN";
        let get = |origin: Option<&str>, etag: Option<&str>| {
            let mut b = Request::builder().uri(uri);
            if let Some(origin) = origin {
                b = b.header(header::ORIGIN, origin);
            }
            if let Some(etag) = etag {
                b = b.header(header::IF_NONE_MATCH, etag);
            }
            b.body(Body::empty()).unwrap()
        };
        let response = h.send(get(Some("https://ebank.example.com"), None)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://ebank.example.com"
        );
        assert!(headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age=300"));
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let feed = body_json(response).await;
        assert_eq!(feed["channel"], "online-transfer");
        let warnings = feed["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1, "{feed}");
        assert_eq!(warnings[0]["id"], "current");
        assert_eq!(warnings[0]["text"], "客服说退款<b>先挂电话</b> & 核实");

        let other = h.send(get(Some("https://evil.example"), None)).await;
        assert_eq!(other.status(), StatusCode::OK);
        assert!(
            other
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "no CORS for an unlisted origin"
        );
        let cached = h.send(get(None, Some(&etag))).await;
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(cached.headers()[header::ETAG], etag.as_str());
        assert!(body_bytes(cached).await.is_empty());

        let bad = h
            .send(request(
                Method::GET,
                "/api/v1/feed/warnings?lang=en",
                None,
                None,
            ))
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(body_json(bad).await["hint"].is_string());

        let embed = h
            .send(request(Method::GET, "/embed/warning", None, None))
            .await;
        assert_eq!(embed.status(), StatusCode::OK);
        let csp = embed.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(
            csp.contains("frame-ancestors https://ebank.example.com"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(
            embed.headers().get(header::X_FRAME_OPTIONS).is_none(),
            "the embed may be framed by the listed origins"
        );
        assert!(embed.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = String::from_utf8(body_bytes(embed).await).unwrap();
        assert!(
            html.contains("客服说退款&lt;b&gt;先挂电话&lt;/b&gt; &amp; 核实"),
            "text is escaped: {html}"
        );
        assert!(!html.contains("<script"), "{html}");
        for hidden in ["待审核", "过期", "未生效", "营业时间", "刷单"] {
            assert!(!html.contains(hidden), "{hidden} leaked: {html}");
        }
        let other_page = h.send(request(Method::GET, "/healthz", None, None)).await;
        assert_eq!(other_page.headers()[header::X_FRAME_OPTIONS], "DENY");
        h.finish().await;
    }
}

#[tokio::test]
async fn expiring_report_lists_approved_materials_ending_within_the_window() {
    for db in backends().await {
        let h = Harness::new(db).await;
        h.seed().await;
        let now = h.state.clock.now().as_millis();
        let day = 86_400_000;
        let from = now - day;
        text_material(&h, "soon", "三天后到期的提醒", from, now + 3 * day, true).await;
        text_material(&h, "later", "十天后到期的提醒", from, now + 10 * day, true).await;
        text_material(&h, "gone", "昨天已经到期", from - day, now - 1, true).await;
        text_material(&h, "pending-soon", "待审核也快到期", from, now + day, true).await;
        for id in ["soon", "later", "gone"] {
            assert!(h
                .state
                .store
                .decide_material(
                    id,
                    crate::store::MaterialState::Pending,
                    crate::store::MaterialState::Approved,
                    "approver",
                    now
                )
                .await
                .unwrap());
        }
        let ids = |v: &Value| -> Vec<String> {
            v["materials"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let week = body_json(
            h.send(request(
                Method::GET,
                "/api/v1/materials/expiring?days=7",
                Some("approver"),
                None,
            ))
            .await,
        )
        .await;
        assert_eq!(ids(&week), ["soon"], "{week}");
        let default = body_json(
            h.send(request(
                Method::GET,
                "/api/v1/materials/expiring",
                Some("editor"),
                None,
            ))
            .await,
        )
        .await;
        assert_eq!(default["days"], 7);
        let fortnight = body_json(
            h.send(request(
                Method::GET,
                "/api/v1/materials/expiring?days=14",
                Some("admin"),
                None,
            ))
            .await,
        )
        .await;
        assert_eq!(ids(&fortnight), ["soon", "later"], "soonest first");
        let bad = h
            .send(request(
                Method::GET,
                "/api/v1/materials/expiring?days=0",
                Some("admin"),
                None,
            ))
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let (start, end) = crate::expiry::window(now, 7);
        let edge = h.state.store.materials_expiring(start, end).await.unwrap();
        assert_eq!(
            edge.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["soon"]
        );
        let at_end = h
            .state
            .store
            .materials_expiring(now + 3 * day, now + 3 * day + 1)
            .await
            .unwrap();
        assert_eq!(
            at_end.len(),
            1,
            "valid_until at the window start is included"
        );
        assert!(
            h.state
                .store
                .materials_expiring(now, now + 3 * day)
                .await
                .unwrap()
                .is_empty(),
            "the window end is exclusive"
        );
        h.finish().await;
    }
}

#[tokio::test]
async fn a_changed_schedule_keeps_its_approved_version_on_air_until_the_change_is_approved() {
    for db in backends().await {
        let h = Harness::new(db).await;
        h.seed().await;
        import_demo_materials(&h).await;
        let apply = |files: Vec<Value>| {
            h.send(request(
                Method::POST,
                "/api/v1/apply",
                Some("editor"),
                Some(json!({"files": files})),
            ))
        };
        let decide = |id: String, how: &'static str| {
            h.send(request(
                Method::POST,
                &format!("/api/v1/schedules/{id}/{how}"),
                Some("approver"),
                Some(json!({})),
            ))
        };
        let desired = || async {
            let versions = h.state.store.screen_versions().await.unwrap();
            versions
                .into_iter()
                .map(|v| (v.screen_id, v.desired_version))
                .collect::<Vec<_>>()
        };
        let files = playlist_files();
        let body = body_json(apply(files.clone()).await).await;
        for id in body["pending_schedules"].as_array().unwrap() {
            let id = id.as_str().unwrap().to_owned();
            assert_eq!(decide(id, "approve").await.status(), StatusCode::OK);
        }
        let approved = desired().await;
        assert!(approved.iter().any(|(_, v)| v.is_some()), "{approved:?}");

        // The daytime schedule now plays another playlist: pending.
        let changed = |playlist: &str| -> Vec<Value> {
            files
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    if f["name"] == "schedules.toml" {
                        let text = f["text"].as_str().unwrap().replacen(
                            "playlist = \"county-pack\"",
                            &format!("playlist = \"{playlist}\""),
                            1,
                        );
                        f["text"] = json!(text);
                    }
                    f
                })
                .collect()
        };
        let body = body_json(apply(changed("counter-warnings")).await).await;
        assert_eq!(
            body["pending_schedules"],
            json!(["county-pack-daytime"]),
            "{} {body}",
            h.name()
        );
        assert_eq!(
            desired().await,
            approved,
            "{}: a change waiting for approval must not reach (or take anything off) a screen",
            h.name()
        );
        // Rejected: the approved version still plays.
        assert_eq!(
            decide("county-pack-daytime".to_owned(), "reject")
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(desired().await, approved, "{}", h.name());
        // Another change, approved: now the screens move.
        body_json(apply(changed("bank-notices")).await).await;
        assert_eq!(desired().await, approved, "{}", h.name());
        assert_eq!(
            decide("county-pack-daytime".to_owned(), "approve")
                .await
                .status(),
            StatusCode::OK
        );
        let after = desired().await;
        assert!(
            after
                .iter()
                .zip(&approved)
                .any(|((_, now), (_, before))| now > before),
            "{}: approving the change moves the screens it targets: {after:?}",
            h.name()
        );
        h.finish().await;
    }
}

/// Imports the demo's materials (playlists/materials.toml, media/) as
/// editor, approved by approver.
async fn import_demo_materials(h: &Harness) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let materials = std::fs::read_to_string(format!("{root}/playlists/materials.toml")).unwrap();
    crate::materials::import_materials_file(
        &h.state,
        &materials,
        std::path::Path::new(&format!("{root}/media")),
        "editor",
        "approver",
    )
    .await
    .unwrap();
}

/// The longest-running alert's end on a screen's newest stored rotation
/// (the end of the last top-priority block that plays only `material`), or 0.
async fn alert_end_on_air(store: &crate::store::Store, screen: &str, material: &str) -> i64 {
    let Some(stored) = store.latest_rotation(screen).await.unwrap() else {
        return 0;
    };
    let trusted = protocol::TrustedKey::new(SigningKey::from_bytes(&[9; 32]).verifying_key());
    let rotation: protocol::Rotation = protocol::open(&stored.envelope, &trusted).unwrap();
    // Alerts pre-empt every schedule: their blocks are the highest.
    let top = rotation.blocks.iter().map(|b| b.priority).max();
    rotation
        .blocks
        .iter()
        .filter(|b| Some(b.priority) == top && b.slots.iter().all(|s| s.material_id == material))
        .map(|b| b.until.as_millis())
        .max()
        .unwrap_or(0)
}

/// Issue 21: alerts created and ended at the same moment through two
/// replicas on one PostgreSQL database (on SQLite, through one server)
/// all reach the screens. Before the compile lease, a compile that read
/// older inputs could store after one that read newer ones, and a change
/// was lost until the next day's refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_alerts_through_two_replicas_all_reach_every_screen() {
    for db in backends().await {
        let h = Harness::new(db).await;
        h.seed().await;
        import_demo_materials(&h).await;
        let applied = h
            .send(request(
                Method::POST,
                "/api/v1/apply",
                Some("editor"),
                Some(json!({"files": playlist_files()})),
            ))
            .await;
        assert_eq!(applied.status(), StatusCode::OK, "{}", h.name());
        // Replica B: its own pool, compile lock and media, the same database.
        let dir_b = tempfile::tempdir().unwrap();
        let replica_b = match h.db.as_ref().unwrap().another_replica().await {
            Some(store) => test_state(&store, dir_b.path()).await,
            None => h.state.clone(),
        };
        let replicas = [h.state.clone(), replica_b.clone()];
        let now = TEST_NOW.as_millis();
        let material = "std-text-no-transfer";
        let create = |k: usize, screen: &str| {
            request(
                Method::POST,
                "/api/v1/alerts",
                Some("editor"),
                Some(json!({
                    "material_id": material,
                    "targets": {"screens": [screen]},
                    "until": now + 3_600_000 + i64::try_from(k).unwrap() * 60_000,
                })),
            )
        };
        // 50 rounds of two alerts at the same moment, one through each
        // replica (icbc-door through A, abc-door through B), each ending a
        // minute after the round before's. After each round both screens
        // show their newest alert.
        for round in 0..50 {
            // Each on its own task, as two servers would run them.
            let a = tokio::spawn(app(replicas[0].clone()).oneshot(create(round, "icbc-door")));
            let b = tokio::spawn(app(replicas[1].clone()).oneshot(create(round, "abc-door")));
            for response in [a.await.unwrap(), b.await.unwrap()] {
                assert_eq!(
                    response.unwrap().status(),
                    StatusCode::CREATED,
                    "{}",
                    h.name()
                );
            }
            for replica in &replicas {
                replica.compile_lock.settle_all().await;
            }
            for screen in ["icbc-door", "abc-door"] {
                assert_eq!(
                    alert_end_on_air(&h.state.store, screen, material).await,
                    now + 3_600_000 + i64::try_from(round).unwrap() * 60_000,
                    "{}: round {round}: the alert for {screen} is not on its rotation",
                    h.name()
                );
            }
        }
        // Then 100 at once, alternating between the replicas: the last on
        // each screen (k = 98, 99) ends latest.
        let mut burst = tokio::task::JoinSet::new();
        for k in 0..100 {
            let request = create(100 + k, ["icbc-door", "abc-door"][k % 2]);
            let replica = replicas[k % 2].clone();
            burst.spawn(async move { app(replica).oneshot(request).await.unwrap().status() });
        }
        while let Some(status) = burst.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::CREATED, "{}", h.name());
        }
        for replica in &replicas {
            replica.compile_lock.settle_all().await;
        }
        // Every change is on the newest rotation of every screen: compiling
        // again finds nothing to store, and the longest alert of each
        // screen plays until its end.
        let again = crate::recompiler::recompile(&h.state, h.state.clock.now())
            .await
            .unwrap();
        assert!(
            again.stored.is_empty(),
            "{}: a change was missing from the stored rotations: {:?}",
            h.name(),
            again.stored
        );
        for (screen, last) in [("icbc-door", 198), ("abc-door", 199)] {
            assert_eq!(
                alert_end_on_air(&h.state.store, screen, material).await,
                now + 3_600_000 + last * 60_000,
                "{}: {screen}",
                h.name()
            );
        }
        if !Arc::ptr_eq(&replica_b.compile_lock, &h.state.compile_lock) {
            replica_b.store.close().await;
        }
        h.finish().await;
    }
}

/// Issue 19, point 4: the same picture uploaded again under another name is
/// pointed out (in Chinese first, with a link to the material it already
/// is) instead of silently becoming a second material; a second copy is
/// made only when asked for.
#[tokio::test]
async fn a_duplicate_upload_points_at_the_existing_material() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    let poster = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../media/posters/w48-refund.png"
    ))
    .unwrap();
    let upload = |file_name: &str, title: &str, allow_duplicate: bool| {
        let mut body = Vec::new();
        let mut field = |name: &str, file: Option<&str>, bytes: &[u8]| {
            body.extend_from_slice(b"--XyZ\r\n");
            let disposition = match file {
                Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
                None => format!("form-data; name=\"{name}\""),
            };
            body.extend_from_slice(
                format!("Content-Disposition: {disposition}\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        };
        field("title", None, title.as_bytes());
        if allow_duplicate {
            field("allow_duplicate", None, b"true");
        }
        field("file", Some(file_name), &poster);
        body.extend_from_slice(b"--XyZ--\r\n");
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/materials")
            .header(header::AUTHORIZATION, "Bearer token-editor")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::from(body))
            .unwrap()
    };
    let first = h.send(upload("refund.png", "网购退款", false)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = body_json(first).await;
    let id = first["material"]["id"].as_str().unwrap().to_owned();
    let count = |h: &Harness| {
        let store = h.state.store.clone();
        async move {
            store
                .list_materials(&crate::store::MaterialFilter::default())
                .await
                .unwrap()
                .len()
        }
    };
    let before = count(&h).await;

    let again = h
        .send(upload("copy-of-refund.png", "退款诈骗", false))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let body = body_json(again).await;
    assert_eq!(body["error"], "duplicate");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("这个文件已经上传过，是素材“网购退款”"),
        "{detail}"
    );
    assert_eq!(body["existing"]["id"], id.as_str());
    assert_eq!(body["existing"]["url"], format!("/ui/materials/{id}"));
    assert_eq!(count(&h).await, before, "no second material");

    let kept = h.send(upload("copy-of-refund.png", "退款诈骗", true)).await;
    assert_eq!(kept.status(), StatusCode::CREATED);
    assert_eq!(count(&h).await, before + 1);
    h.finish().await;
}

/// Issue 18, item 4: an alert's request records the alert and returns; the
/// recompiler puts it on the screens' rotations right after. Before, the
/// request awaited the whole compile (300 of the 377 ms of an alert at
/// 1,000 screens), and a request arriving during another compile waited
/// for it too: here a compile holds the gate, and the request still
/// answers at once.
#[tokio::test]
async fn an_alert_request_answers_before_the_compile_and_the_screens_follow() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    import_demo_materials(&h).await;
    let applied = h
        .send(request(
            Method::POST,
            "/api/v1/apply",
            Some("editor"),
            Some(json!({"files": playlist_files()})),
        ))
        .await;
    assert_eq!(applied.status(), StatusCode::OK);
    let material = "std-text-no-transfer";
    let until = TEST_NOW.as_millis() + 3_600_000;
    // A compile is running (it holds the gate).
    let compiling = h.state.compile_lock.lock().await;
    let created = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        app(h.state.clone()).oneshot(request(
            Method::POST,
            "/api/v1/alerts",
            Some("editor"),
            Some(json!({
                "material_id": material,
                "targets": {"screens": ["icbc-door"]},
                "until": until,
            })),
        )),
    )
    .await
    .expect("the alert request answers while a compile runs")
    .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let body = body_json(created).await;
    let ticket = body["recompile"]["ticket"].as_u64().expect("a ticket");
    assert_eq!(body["recompile"]["progress"], "/api/v1/recompile");
    assert_eq!(
        alert_end_on_air(&h.state.store, "icbc-door", material).await,
        0
    );
    // The progress says it waits.
    // (Not `h.send`: it waits for the recompiler, which this test holds.)
    let progress = body_json(
        app(h.state.clone())
            .oneshot(request(
                Method::GET,
                "/api/v1/recompile",
                Some("approver"),
                None,
            ))
            .await
            .unwrap(),
    )
    .await;
    assert!(progress["requested"].as_u64() >= Some(ticket), "{progress}");
    assert!(progress["done"].as_u64() < Some(ticket), "{progress}");
    assert_eq!(progress["running"], true, "{progress}");
    // The compile in the way ends; the recompiler takes the alert on air.
    drop(compiling);
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        h.state.compile_lock.settled(ticket),
    )
    .await
    .expect("the recompiler compiles the alert");
    assert_eq!(
        alert_end_on_air(&h.state.store, "icbc-door", material).await,
        until,
        "the alert is on icbc-door's rotation"
    );
    let progress = h.state.compile_lock.progress();
    assert!(progress.done >= ticket);
    let last = progress.last.expect("a compile finished");
    assert_eq!(last.error, None);
    assert!(last.stored >= 1, "{last:?}");
    h.finish().await;
}

/// Issue 19, point 3: a schedule that would win over every other schedule
/// on some screens says so in the builder's check, and the approval page
/// shows what approving it changes — targets, hours in words, priority,
/// its materials, and each affected screen's loop now and after — computed
/// as the real compile computes it once the schedule is approved.
#[tokio::test]
async fn a_pending_schedule_shows_its_targets_hours_screens_and_override_before_approval() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    import_demo_materials(&h).await;
    let files = playlist_files();
    let body = body_json(
        h.send(request(
            Method::POST,
            "/api/v1/apply",
            Some("editor"),
            Some(json!({"files": files})),
        ))
        .await,
    )
    .await;
    for id in body["pending_schedules"].as_array().unwrap() {
        let uri = format!("/api/v1/schedules/{}/approve", id.as_str().unwrap());
        let response = h
            .send(request(
                Method::POST,
                &uri,
                Some("approver"),
                Some(json!({})),
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // The builder offers a priority below every schedule on screens (5–30
    // in the demo; the online-transfer channel is no screen) and says why.
    let response = h
        .send(request(Method::GET, "/ui/playlists", Some("editor"), None))
        .await;
    let builder = String::from_utf8(body_bytes(response).await).unwrap();
    assert!(
        builder.contains("<input id=\"sc-priority\" type=\"number\" value=\"4\""),
        "{builder}"
    );
    assert!(
        builder.contains("现有排期的优先级为 5–30。默认 4 比它们都低，只在没有其他排期的时段播出"),
        "{builder}"
    );
    // The clerk's loop for one branch, at priority 40, 08:00–20:00 daily.
    let own = json!({"name": "ui-kefu-loop.toml", "text": r#"
[[playlists]]
id = "kefu-loop"
name = "客服防骗轮播"
items = [
  { material = "std-poster-96110" },
  { material = "notice-business-hours" },
]

[[schedules]]
id = "kefu-loop-schedule"
playlist = "kefu-loop"
sites = ["icbc-gaogang"]
days = "mon-sun"
hours = "08:00-20:00"
priority = 40
"#});
    let mut with_own = files.clone();
    with_own.push(own);
    let check = |dry_run: bool| {
        h.send(request(
            Method::POST,
            "/api/v1/apply",
            Some("editor"),
            Some(json!({"files": with_own, "dry_run": dry_run, "own_file": "ui-kefu-loop.toml"})),
        ))
    };
    // 检查 (a dry run) already says where it would win over everything.
    let answer = body_json(check(true).await).await;
    let impact = &answer["impact"][0];
    assert_eq!(impact["schedule"], "kefu-loop-schedule", "{answer}");
    assert_eq!(impact["priority"], 40);
    // Above the door's 20 (bank notices), the ATM's 10 (county pack) and
    // the counter's and lobby's 30 (pension day): the highest is 30.
    assert_eq!(impact["outranks"]["highest"], 30, "{impact}");
    let outranked: Vec<&str> = impact["outranks"]["screens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        outranked,
        [
            "工行 ATM 顶屏",
            "工行柜台滚动屏",
            "工行门头条屏",
            "工行大堂屏"
        ],
        "{impact}"
    );
    assert_eq!(impact["screens_targeted"], 4, "{impact}");
    assert!(
        impact["replaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "county-pack-daytime"),
        "{impact}"
    );
    assert!(
        !h.state
            .store
            .list_schedules()
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == "kefu-loop-schedule"),
        "a check stores nothing"
    );
    // Submitted: it waits for the approver, who sees what it changes.
    let answer = body_json(check(false).await).await;
    assert_eq!(answer["pending_schedules"], json!(["kefu-loop-schedule"]));
    assert_eq!(answer["impact"][0]["outranks"], impact["outranks"]);
    let response = h
        .send(request(
            Method::GET,
            "/ui/approvals",
            Some("approver"),
            None,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = String::from_utf8(body_bytes(response).await).unwrap();
    let start = page
        .find("class=\"pending-schedule\" data-id=\"kefu-loop-schedule\"")
        .expect("the pending schedule listed");
    let article = &page[start..start + page[start..].find("</article>").unwrap()];
    // Targets by name, hours in words, priority.
    assert!(
        article.contains("<span class=\"tag\">工商银行高港支行</span>"),
        "{article}"
    );
    assert!(article.contains(">每天 08:00–20:00</dd>"), "{article}");
    assert!(
        article.contains("<dd class=\"priority\">40</dd>"),
        "{article}"
    );
    // The override, said before approval, naming the screens.
    assert!(
        article.contains(
            "优先级 40 高于本屏现有的全部排期（最高 30），批准后这些屏在所列时段只播这个排期：<b>工商银行高港支行：工行 ATM 顶屏、工行柜台滚动屏、工行门头条屏、工行大堂屏</b>"
        ),
        "{article}"
    );
    // Its materials with their LED previews.
    assert!(
        article.contains("<span class=\"mat-title\">96110 反诈预警专线</span>"),
        "{article}"
    );
    assert!(
        article.contains("<span class=\"mat-title\">网点营业时间</span>"),
        "{article}"
    );
    // Each affected screen: the door now plays the county pack in the
    // daytime, after approval the clerk's loop; the other branches' screens
    // are not affected.
    let door_start = article
        .find("data-screen=\"icbc-door\"")
        .expect("the door screen listed");
    let door = &article[door_start..];
    let door = &door[..door.find("class=\"impact-screen\"").unwrap_or(door.len())];
    assert!(
        door.contains("<b>现在播</b> 排期“县反诈中心每周素材包”（优先级 10）"),
        "{door}"
    );
    assert!(
        door.contains("<b>批准后播</b> 排期“客服防骗轮播”（优先级 40）"),
        "{door}"
    );
    assert!(door.contains("顶替："), "{door}");
    assert!(door.contains("2026年11月30日 10:00 起"), "{door}");
    assert!(
        door.contains("data-material=\"notice-business-hours\""),
        "{door}"
    );
    assert!(!article.contains("data-screen=\"abc-door\""), "{article}");
    // The same in English.
    let english = Request::builder()
        .uri("/ui/approvals")
        .header(header::AUTHORIZATION, "Bearer token-approver")
        .header(header::COOKIE, "ledcast_lang=en")
        .body(Body::empty())
        .unwrap();
    let page = String::from_utf8(body_bytes(h.send(english).await).await).unwrap();
    assert!(
        page.contains("Priority 40 is above every schedule these screens have (highest 30): once approved, these screens play only this schedule in its hours: <b>工商银行高港支行: 工行 ATM 顶屏, 工行柜台滚动屏, 工行门头条屏, 工行大堂屏</b>"),
        "{page}"
    );
    assert!(page.contains(">every day 08:00–20:00</dd>"), "{page}");

    // "After" is what the real compile makes once it is approved.
    let now = h.state.clock.now();
    let preview = crate::schedule_impact::of_pending(&h.state, "kefu-loop-schedule", now)
        .await
        .unwrap()
        .unwrap();
    let door = preview
        .screens
        .iter()
        .find(|s| s.screen.id == "icbc-door")
        .unwrap();
    let change = door
        .changes
        .iter()
        .find(|c| c.after.source.id == "kefu-loop-schedule")
        .unwrap();
    let response = h
        .send(request(
            Method::POST,
            "/api/v1/schedules/kefu-loop-schedule/approve",
            Some("approver"),
            Some(json!({})),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored = h
        .state
        .store
        .latest_rotation("icbc-door")
        .await
        .unwrap()
        .unwrap();
    let trusted = protocol::TrustedKey::new(SigningKey::from_bytes(&[9; 32]).verifying_key());
    let rotation: protocol::Rotation = protocol::open(&stored.envelope, &trusted).unwrap();
    let position = rotation
        .position_at(protocol::Timestamp(change.from))
        .unwrap();
    let block = &rotation.blocks[position.block.unwrap()];
    let on_air: Vec<(&str, String)> = block
        .slots
        .iter()
        .map(|s| (s.material_id.as_str(), s.media.to_hex()))
        .collect();
    let predicted: Vec<(&str, String)> = change
        .after
        .slots
        .iter()
        .map(|s| (s.material.as_str(), s.media.clone()))
        .collect();
    assert_eq!(on_air, predicted);
    assert!(predicted.iter().any(|(m, _)| *m == "notice-business-hours"));
    h.finish().await;
}

#[tokio::test]
async fn metrics_report_request_and_recompile_latency_by_route_template() {
    let h = Harness::new(crate::store::testing::sqlite().await).await;
    h.seed().await;
    import_demo_materials(&h).await;
    let applied = h
        .send(request(
            Method::POST,
            "/api/v1/apply",
            Some("editor"),
            Some(json!({"files": playlist_files()})),
        ))
        .await;
    assert_eq!(applied.status(), StatusCode::OK);
    for _ in 0..3 {
        let screen = h
            .send(request(
                Method::GET,
                "/api/v1/screens/icbc-door",
                Some("approver"),
                None,
            ))
            .await;
        assert_eq!(screen.status(), StatusCode::OK);
    }
    let response = h.send(request(Method::GET, "/metrics", None, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let value = |prefix: &str, labels: &[&str]| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix) && labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} {labels:?} in:\n{text}"))
    };
    // Requests are timed per route template: three reads of one screen.
    assert_eq!(
        value(
            "ledcast_http_request_duration_seconds_count{",
            &[
                r#"method="GET""#,
                r#"route="/api/v1/screens/{id}""#,
                r#"status="2xx""#
            ]
        ),
        3.0
    );
    // with buckets a dashboard can draw (everything here took under 16 s).
    assert_eq!(
        value(
            "ledcast_http_request_duration_seconds_bucket{",
            &[r#"route="/api/v1/screens/{id}""#, r#"le="+Inf""#]
        ),
        3.0
    );
    assert!(
        !text.contains("icbc-door"),
        "ids never become labels (one series per route): {text}"
    );
    // The apply's recompile is timed, and its rotations counted.
    assert!(value("ledcast_recompile_duration_seconds_count", &[]) >= 1.0);
    assert!(value("ledcast_rotations_stored_total", &[]) >= 1.0);
    assert!(text.ends_with("# EOF\n"), "{text}");
}
