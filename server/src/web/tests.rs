//! The UI in-process: catalogues complete and in step, no Chinese outside
//! the catalogues, every page renders for its roles, browsers are sent to
//! the login page, page headers (CSP, cookies) and escaping of what users
//! and agents typed.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use tower::ServiceExt;

use crate::config::Config;
use crate::http::AppState;
use crate::i18n::{Lang, EN_TEXT, ZH_CN_TEXT};
use crate::router::app;
use crate::store::testing::sqlite;
use crate::store::{MaterialRow, NewUser, ProfileRow, Role, ScreenRow, SiteRow};

const HOSTILE: &str = "<script>alert('x')</script>";

fn keys(text: &str) -> BTreeSet<String> {
    toml::from_str::<std::collections::BTreeMap<String, String>>(text)
        .expect("catalogue parses")
        .into_keys()
        .collect()
}

#[test]
fn catalogues_have_the_same_keys() {
    let zh = keys(ZH_CN_TEXT);
    let en = keys(EN_TEXT);
    let only_zh: Vec<_> = zh.difference(&en).collect();
    let only_en: Vec<_> = en.difference(&zh).collect();
    assert!(
        only_zh.is_empty() && only_en.is_empty(),
        "only in zh-CN: {only_zh:?}; only in en: {only_en:?}"
    );
}

#[test]
fn every_key_the_templates_and_script_use_exists() {
    let zh = keys(ZH_CN_TEXT);
    let mut missing = Vec::new();
    let mut used = BTreeSet::new();
    for (name, source) in super::render::template_sources() {
        // `t.key` (not `shot.sha256`): preceded by a non-identifier character.
        let bytes = source.as_bytes();
        for (i, _) in source.match_indices("t.") {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
                continue;
            }
            let key: String = source[i + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !key.is_empty() {
                used.insert((name.to_string(), key));
            }
        }
    }
    let script = include_str!("../../static/app.js");
    for (i, _) in script.match_indices("msg(\"") {
        let key: String = script[i + 5..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // `msg("c_" + r.status)`-style prefixes are checked below.
        if !key.ends_with('_') {
            used.insert(("app.js".into(), format!("js_{key}")));
        }
    }
    // Sentences handlers send with an error (`ApiError::said_as`).
    let senders = [
        ("http/materials.rs", include_str!("../http/materials.rs")),
        ("http/extract.rs", include_str!("../http/extract.rs")),
        ("http/views.rs", include_str!("../http/views.rs")),
        ("http/editions.rs", include_str!("../http/editions.rs")),
        ("http/compliance.rs", include_str!("../http/compliance.rs")),
        ("web/pages/mod.rs", include_str!("pages/mod.rs")),
        ("web/pages/admin.rs", include_str!("pages/admin.rs")),
        ("web/pages/approvals.rs", include_str!("pages/approvals.rs")),
        ("web/pages/branch.rs", include_str!("pages/branch.rs")),
        ("web/pages/library.rs", include_str!("pages/library.rs")),
        ("web/pages/screens.rs", include_str!("pages/screens.rs")),
    ];
    for (file, source) in senders {
        let keyed_refusals = if file == "http/materials.rs" {
            source.match_indices("\"upload_").collect()
        } else {
            Vec::new()
        };
        for (i, _) in keyed_refusals
            .into_iter()
            .chain(source.match_indices("said_as(\""))
        {
            let start = i + source[i..].find('"').unwrap_or(0) + 1;
            let key: String = source[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            used.insert((file.into(), format!("js_{key}")));
        }
    }
    for (file, key) in &used {
        if !zh.contains(key) {
            missing.push(format!("{file}: {key}"));
        }
    }
    // Keys built at run time from a fixed set of values.
    let dynamic = [
        ("status_", &["online", "offline", "never"][..]),
        ("state_", &["pending", "approved", "rejected", "retired"]),
        ("kind_", &["poster", "video", "text"]),
        ("role_", &["admin", "editor", "approver", "branch"]),
        ("weekday_", &["0", "1", "2", "3", "4", "5", "6"]),
        ("days_", &["mon_sun", "mon_fri", "mon_sat", "sat_sun"]),
        ("js_c_", &["compliant", "non_compliant", "unknown"]),
        ("js_confirmed_", &["ok", "problem"]),
        (
            "js_edition_",
            &["pending", "current", "superseded", "rejected"],
        ),
        ("js_severity_", &["error", "warning", "info"]),
        (
            "js_impact_source_",
            &["schedule", "default", "alert", "fallback"],
        ),
        (
            "js_err_",
            &[
                "bad_request",
                "unauthenticated",
                "forbidden",
                "not_found",
                "conflict",
                "payload_too_large",
                "too_many_requests",
                "internal",
                "invalid",
                "invalid_media",
                "duplicate",
                "network",
                "unknown",
            ],
        ),
    ];
    for (prefix, values) in dynamic {
        for value in values {
            let key = format!("{prefix}{value}");
            if !zh.contains(&key) {
                missing.push(key);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys missing from the catalogues: {missing:?}"
    );
}

fn has_cjk(text: &str) -> bool {
    text.chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3000}'..='\u{303f}').contains(&c))
}

#[test]
fn no_chinese_outside_the_catalogues() {
    let mut sources: Vec<(&str, &str)> = vec![
        ("web/mod.rs", include_str!("mod.rs")),
        ("web/pages/mod.rs", include_str!("pages/mod.rs")),
        ("web/pages/admin.rs", include_str!("pages/admin.rs")),
        ("web/pages/approvals.rs", include_str!("pages/approvals.rs")),
        ("web/pages/branch.rs", include_str!("pages/branch.rs")),
        ("web/pages/library.rs", include_str!("pages/library.rs")),
        ("web/pages/screens.rs", include_str!("pages/screens.rs")),
        ("web/render.rs", include_str!("render.rs")),
        ("i18n/mod.rs", include_str!("../i18n/mod.rs")),
        ("web/words.rs", include_str!("words.rs")),
        (
            "i18n/diagnostics.rs",
            include_str!("../i18n/diagnostics.rs"),
        ),
        ("static/app.js", include_str!("../../static/app.js")),
        ("static/app.css", include_str!("../../static/app.css")),
    ];
    sources.extend(super::render::template_sources().iter().copied());
    let offenders: Vec<&str> = sources
        .iter()
        .filter(|(_, text)| has_cjk(text))
        .map(|(name, _)| *name)
        .collect();
    assert!(
        offenders.is_empty(),
        "Chinese text outside server/locales: {offenders:?}"
    );
}

struct Ui {
    state: AppState,
    db: crate::store::testing::TestDb,
    _dir: tempfile::TempDir,
}

impl Ui {
    /// Site a with a screen and a material whose name and title are hostile,
    /// site b with its own screen, and a user per role (Bearer `token-{name}`).
    async fn new() -> Ui {
        let db = sqlite().await;
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::tests::test_state(&db.store, dir.path()).await;
        let store = &state.store;
        for (site, name) in [("site-a", HOSTILE), ("site-b", "Branch B")] {
            store
                .upsert_site(
                    &SiteRow {
                        id: site.into(),
                        organisation_id: "bank".into(),
                        name: name.into(),
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
        for (id, site, name) in [
            ("screen-a", "site-a", HOSTILE),
            ("screen-b", "site-b", "door b"),
        ] {
            store
                .upsert_screen(
                    &ScreenRow {
                        id: id.into(),
                        site_id: site.into(),
                        name: name.into(),
                        profile_id: "door".into(),
                        tags: vec!["bank-door".into()],
                        timezone: "Asia/Shanghai".into(),
                        opening_hours: String::new(),
                    },
                    1,
                )
                .await
                .unwrap();
        }
        crate::http::tests::add_users(
            store,
            &[
                ("admin", Role::Admin, vec![]),
                ("editor", Role::Editor, vec![]),
                ("approver", Role::Approver, vec![]),
                ("branch-b", Role::Branch, vec!["site-b".to_owned()]),
            ],
        )
        .await;
        let media = state.media.put(b"poster").await.unwrap().to_hex();
        store
            .register_media(&media, "image/png", 6, 1)
            .await
            .unwrap();
        store
            .insert_material(&MaterialRow {
                id: "m1".into(),
                sha256: media,
                kind: crate::store::MaterialKind::Poster,
                title: HOSTILE.into(),
                tags: vec![HOSTILE.into()],
                source: HOSTILE.into(),
                mime: "image/png".into(),
                size_bytes: 6,
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
            })
            .await
            .unwrap();
        Ui {
            state,
            db,
            _dir: dir,
        }
    }

    async fn get(&self, uri: &str, actor: Option<&str>, html: bool) -> Response {
        let mut builder = Request::builder().uri(uri);
        if let Some(actor) = actor {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer token-{actor}"));
        }
        if html {
            builder = builder.header(header::ACCEPT, "text/html,application/xhtml+xml");
        }
        app(self.state.clone())
            .oneshot(builder.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn every_page_renders_for_an_admin_and_escapes_what_users_typed() {
    let ui = Ui::new().await;
    for page in [
        "/ui/screens",
        "/ui/sites/site-a",
        "/ui/screens/screen-a",
        "/ui/materials",
        "/ui/materials/m1",
        "/ui/playlists",
        "/ui/approvals",
        "/ui/alerts",
        "/ui/editions",
        "/ui/branch",
        "/ui/reports",
        "/ui/audit",
        "/ui/users",
    ] {
        let response = ui.get(page, Some("admin"), true).await;
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{page}: {csp}"
        );
        let body = text(response).await;
        assert!(
            body.contains("<html lang=\"zh-CN\">"),
            "{page} is not zh-CN by default"
        );
        assert!(
            !body.contains("<script>alert"),
            "{page} shows a user's <script> unescaped"
        );
        // The only script elements are the app's file and its JSON messages.
        assert_eq!(body.matches("<script").count(), 2, "{page}");
    }
    let screens = text(ui.get("/ui/screens", Some("admin"), true).await).await;
    assert!(
        screens.contains("&lt;script&gt;alert("),
        "screen name not shown escaped"
    );
    let material = text(ui.get("/ui/materials/m1", Some("admin"), true).await).await;
    assert!(
        material.contains("&lt;script&gt;alert("),
        "material title not shown escaped"
    );
    ui.db.finish().await;
}

#[tokio::test]
async fn the_screen_page_shows_what_a_bridged_controller_card_reported() {
    let ui = Ui::new().await;
    let page = text(ui.get("/ui/screens/screen-a", Some("admin"), true).await).await;
    assert!(
        !page.contains("id=\"controller-card\""),
        "no card, no section"
    );
    let state = ledcast_protocol::v1::AgentState {
        screen_id: ledcast_protocol::v1::ScreenId::new("screen-a").unwrap(),
        boot_id: ledcast_protocol::v1::BootId::from_random([1; 16]),
        status: ledcast_protocol::v1::Presence::Online,
        reported_at: ledcast_protocol::v1::Timestamp(5),
        rotation_version: Some(3),
        pending_version: None,
        now_playing: None,
        stale: false,
        cache: Default::default(),
        journal_pending: 0,
        journal_alarm: false,
        last_error: None,
        warnings: Vec::new(),
        agent_version: "0.1.0".into(),
        bridge: Some(ledcast_protocol::v1::BridgeState {
            vendor: "huidu".into(),
            address: "192.168.10.20:10001".into(),
            reachable: true,
            device: Some(ledcast_protocol::v1::BridgeDevice {
                id: "WF2-D00-A0001".into(),
                model: "HD-WF2".into(),
                firmware: "7.10.78.1".into(),
                width: 352,
                height: 80,
            }),
            uploaded_loop: Some("screen-a-v3-b0".into()),
            playing_program: Some("screen-a-v3-b0-1".into()),
            confirmed: false,
            brightness_mode: Some("ploys".into()),
            brightness_percent: None,
            brightness_schedule: Some("07:00:00 80%".into()),
            last_error: Some(format!("card says {HOSTILE}")),
            checked_at: Some(ledcast_protocol::v1::Timestamp(1_796_596_430_470)),
            uploaded_at: None,
            screenshot_at: None,
        }),
        connected_at: None,
        clock_suspect: false,
        display_missing: false,
    };
    ui.state
        .store
        .record_agent_state("screen-a", &state, ledcast_protocol::v1::Timestamp(6))
        .await
        .unwrap();
    let page = text(ui.get("/ui/screens/screen-a", Some("admin"), true).await).await;
    assert!(page.contains("id=\"controller-card\""), "{page}");
    for shown in [
        "HD-WF2",
        "WF2-D00-A0001",
        "352×80",
        "screen-a-v3-b0-1",
        "07:00:00 80%",
        "192.168.10.20:10001",
    ] {
        assert!(page.contains(shown), "{shown} not on the page");
    }
    assert!(page.contains("未确认"), "an unconfirmed card is said so");
    assert!(
        !page.contains("<script>alert"),
        "the card's words are escaped"
    );
    ui.db.finish().await;
}

#[tokio::test]
async fn a_screen_whose_clock_is_suspect_or_display_missing_says_so_in_plain_words() {
    let ui = Ui::new().await;
    let page = text(ui.get("/ui/screens/screen-a", Some("admin"), true).await).await;
    assert!(!page.contains("id=\"clock-suspect\""));
    assert!(!page.contains("id=\"display-missing\""));
    // An RTC-less board that booted before time sync: its saved rotation is
    // refused as issued in the future, so it plays the built-in warnings.
    let state = ledcast_protocol::v1::AgentState {
        screen_id: ledcast_protocol::v1::ScreenId::new("screen-a").unwrap(),
        boot_id: ledcast_protocol::v1::BootId::from_random([2; 16]),
        status: ledcast_protocol::v1::Presence::Online,
        reported_at: ledcast_protocol::v1::Timestamp(946_684_800_000),
        rotation_version: None,
        pending_version: None,
        now_playing: None,
        stale: true,
        cache: Default::default(),
        journal_pending: 0,
        journal_alarm: false,
        last_error: None,
        warnings: Vec::new(),
        agent_version: "0.1.0".into(),
        bridge: None,
        connected_at: None,
        clock_suspect: true,
        display_missing: true,
    };
    ui.state
        .store
        .record_agent_state("screen-a", &state, ledcast_protocol::v1::Timestamp(6))
        .await
        .unwrap();
    let page = text(ui.get("/ui/screens/screen-a", Some("admin"), true).await).await;
    assert!(page.contains("时钟未同步，正在显示内置警示"), "{page}");
    assert!(page.contains("找不到显示设备"), "{page}");
    ui.db.finish().await;
}

#[tokio::test]
async fn the_screen_page_shows_the_brightness_schedule_in_words() {
    let ui = Ui::new().await;
    let page = text(ui.get("/ui/screens/screen-a", Some("admin"), true).await).await;
    assert!(
        page.contains("亮度</dt><dd id=\"brightness\">全天 100%</dd>"),
        "{page}"
    );
    // The profile dims at night and is off in the small hours; screen-b
    // overrides it with a dimmer day and no off hours.
    let files = [crate::store::PlaylistFile {
        name: "site.toml".into(),
        text: r#"
[[profiles]]
id = "door"
width = 352
height = 80
color = "mono"
scroll = true
brightness = { day = 100, night = 30, night_hours = "20:00-07:00", off_hours = "01:00-05:00" }

[[sites]]
id = "site-b"

[[screens]]
id = "screen-b"
site = "site-b"
profile = "door"
brightness = { day = 80, night = 20, night_hours = "19:30-06:30" }
"#
        .into(),
    }];
    ui.state
        .store
        .replace_playlist_files(&files, "admin", 1)
        .await
        .unwrap();
    let page = text(ui.get("/ui/screens/screen-a", Some("admin"), true).await).await;
    assert!(
        page.contains(
            "亮度</dt><dd id=\"brightness\">白天 100%，20:00–07:00 30%，01:00–05:00 关屏</dd>"
        ),
        "{page}"
    );
    let page = text(ui.get("/ui/screens/screen-b", Some("admin"), true).await).await;
    assert!(
        page.contains("<dd id=\"brightness\">白天 80%，19:30–06:30 20%</dd>"),
        "{page}"
    );
    let english = |uri: &str| {
        let request = Request::builder()
            .uri(uri)
            .header(header::AUTHORIZATION, "Bearer token-admin")
            .header(header::ACCEPT, "text/html")
            .header(header::COOKIE, "ledcast_lang=en")
            .body(Body::empty())
            .unwrap();
        app(ui.state.clone()).oneshot(request)
    };
    let page = text(english("/ui/screens/screen-a").await.unwrap()).await;
    assert!(
        page.contains(
            "Brightness</dt><dd id=\"brightness\">day 100%, 20:00–07:00 30%, 01:00–05:00 off</dd>"
        ),
        "{page}"
    );
    ui.db.finish().await;
}

#[tokio::test]
async fn browsers_are_sent_to_login_and_shown_html_errors() {
    let ui = Ui::new().await;
    let response = ui.get("/ui/screens", None, true).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/login?next=/ui/screens"
    );
    // API clients keep the JSON 401.
    let response = ui.get("/ui/screens", None, false).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A branch user asking for another site's screen: an HTML 403 page.
    let response = ui.get("/ui/screens/screen-a", Some("branch-b"), true).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = text(response).await;
    assert!(body.contains(Lang::ZhCn.text("error_forbidden")), "{body}");
    // Why, in Chinese first; the English detail only under 技术细节.
    let said = body
        .split("<p class=\"error-said\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_default();
    assert_eq!(said, Lang::ZhCn.text("js_err_other_site"), "{body}");
    let (before_details, _) = body.split_once("<details").unwrap_or((&body, ""));
    assert!(
        !before_details.contains("belongs to a site"),
        "English detail shown before the details: {body}"
    );
    assert!(
        !body.contains("alert("),
        "another site's screen name leaked: {body}"
    );
    // A branch user's screen list shows their site only.
    let body = text(ui.get("/ui/screens", Some("branch-b"), true).await).await;
    assert!(
        body.contains("door b") && !body.contains("screen-a"),
        "{body}"
    );
    // Editors may not see the audit log.
    let response = ui.get("/ui/audit", Some("editor"), true).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    ui.db.finish().await;
}

#[tokio::test]
async fn the_language_switch_keeps_a_cookie_and_goes_back_only_locally() {
    let ui = Ui::new().await;
    let response = ui.get("/lang/en?next=/ui/materials", None, true).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/ui/materials");
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("ledcast_lang=en;") && cookie.contains("SameSite=Strict"));
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        // Browsers drop TAB/CR/LF: these were `//other-host` (issue 17).
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/%09/evil.example/",
        "/%2F/evil.example/",
        "/%2f%2fevil.example/",
        "/%5Cevil.example",
        "/ui/ok\u{7f}",
        "",
    ] {
        let response = ui
            .get(
                &format!("/lang/en?next={}", super::render::url_encode(evil)),
                None,
                true,
            )
            .await;
        assert_eq!(response.headers()[header::LOCATION], "/ui", "{evil:?}");
        let response = ui
            .get(
                &format!("/login?next={}", super::render::url_encode(evil)),
                None,
                true,
            )
            .await;
        let body = text(response).await;
        assert!(
            !body.contains("evil.example"),
            "login keeps {evil:?} as its next"
        );
    }
    for local in ["/ui/screens?site=icbc-gaogang", "/ui/materials/m-1%20x"] {
        let response = ui
            .get(
                &format!("/lang/en?next={}", super::render::url_encode(local)),
                None,
                true,
            )
            .await;
        assert_eq!(response.headers()[header::LOCATION], local);
    }
    let response = app(ui.state.clone())
        .oneshot(
            Request::builder()
                .uri("/login")
                .header(header::COOKIE, "ledcast_lang=en")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = text(response).await;
    assert!(body.contains("<html lang=\"en\">") && body.contains(Lang::En.text("login_title")));
    ui.db.finish().await;
}

#[tokio::test]
async fn the_session_cookie_is_httponly_strict_and_secure_under_tls() {
    let ui = Ui::new().await;
    let password = "correct horse battery";
    ui.state
        .store
        .create_user(NewUser {
            id: "cookie",
            username: "cookie",
            password_hash: &crate::auth::hash_password(password),
            role: Role::Editor,
            sites: &[],
            now: 1,
        })
        .await
        .unwrap();
    for behind_tls in [false, true] {
        let mut state = ui.state.clone();
        state.config = Arc::new(Config {
            behind_tls,
            ..(*ui.state.config).clone()
        });
        let response = app(state)
            .oneshot(
                Request::builder()
                    .method("POST")
                    .uri("/api/v1/login")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        serde_json::json!({"username": "cookie", "password": password}).to_string(),
                    ))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert_eq!(cookie.contains("Secure"), behind_tls, "{cookie}");
    }
    ui.db.finish().await;
}

/// Issue 19, point 2: people read names and local dates, not ids.
#[tokio::test]
async fn pages_show_names_local_chinese_dates_and_schedules_in_words() {
    let ui = Ui::new().await;
    let store = &ui.state.store;
    // A branch user whose id is not their name, as real accounts are.
    store
        .create_user(NewUser {
            id: "82f5d45942a637f8",
            username: "wang.fang",
            password_hash: "x",
            role: Role::Branch,
            sites: &["site-b".to_owned()],
            now: 1,
        })
        .await
        .unwrap();
    store
        .create_api_token(
            "wang",
            &crate::auth::token_sha256("token-wang"),
            "82f5d45942a637f8",
            "test",
            1,
        )
        .await
        .unwrap();
    let now = crate::http::tests::TEST_NOW.as_millis();
    store
        .add_confirmation(&crate::store::NewConfirmation {
            id: "cf-0000000000000001",
            screen_id: "screen-b",
            site_id: "site-b",
            week: "2026-W49",
            period_from: now - 36_000_000,
            period_until: now + 6 * 86_400_000,
            verdict: crate::store::BranchVerdict::Ok,
            note: "",
            photo_sha256: None,
            corrects: None,
            evidence: &serde_json::json!({}),
            confirmed_by: "82f5d45942a637f8",
            // 2026-11-30 10:27:20 in Shanghai.
            confirmed_at: now + 1_640_000,
        })
        .await
        .unwrap();
    let page = text(ui.get("/ui/branch", Some("wang"), true).await).await;
    assert!(
        page.contains("已确认正常 · wang.fang · 2026年11月30日 10:27"),
        "{page}"
    );
    assert!(!page.contains("82f5d45942a637f8"), "{page}");

    let page = text(ui.get("/ui/users", Some("admin"), true).await).await;
    assert!(page.contains(r#"title="site-b">Branch B</span>"#), "{page}");
    assert!(!page.contains("<td>site-b</td>"), "{page}");

    store
        .replace_playlist_files(
            &[crate::store::PlaylistFile {
                name: "ui-test.toml".into(),
                text: r#"
[[playlists]]
id = "p"
items = [{ material = "m1" }]

[[schedules]]
id = "p-weekdays"
playlist = "p"
sites = ["site-b"]
screens = ["screen-b"]
days = "mon-fri"
hours = "09:00-17:00"

[[schedules]]
id = "p-noon"
playlist = "p"
tags = ["bank-door"]
cron = "0 0 12 * * Mon-Fri *"
duration_seconds = 1800
"#
                .into(),
            }],
            "admin",
            1,
        )
        .await
        .unwrap();
    let page = text(ui.get("/ui/playlists", Some("admin"), true).await).await;
    assert!(page.contains("每周一至周五 09:00–17:00"), "{page}");
    assert!(
        page.contains("每周一至周五 12:00 开始，每次 30 分钟"),
        "{page}"
    );
    // The raw form stays at hand for those who write the TOML.
    assert!(page.contains("cron 0 0 12 * * Mon-Fri *"), "{page}");
    assert!(page.contains(r#"title="site-b">Branch B</span>"#), "{page}");
    assert!(page.contains(r#"title="screen-b">door b</span>"#), "{page}");
    ui.db.finish().await;
}

/// Issue 19, point 4: the audit log is a table an admin can read and
/// narrow: actions in words, dates in the site's zone, details as lines,
/// filters by person and action that paging keeps.
#[tokio::test]
async fn the_audit_log_reads_in_words_and_filters_by_person_and_action() {
    let ui = Ui::new().await;
    let store = &ui.state.store;
    let now = crate::http::tests::TEST_NOW.as_millis();
    for k in 0..130_i64 {
        let (actor, action) = if k % 2 == 0 {
            ("li.editor", "alert.create")
        } else {
            ("wang.approver", "material.approved")
        };
        store
            .audit(
                now + k * 60_000,
                actor,
                action,
                &format!("target-{k}"),
                &serde_json::json!({
                    "material_id": format!("m-{k}"),
                    "targets": {"screens": [], "sites": ["abc-gaogang", "icbc-gaogang"]},
                    "until": now + 3_600_000,
                }),
                Some("10.0.0.7"),
            )
            .await
            .unwrap();
    }
    let page = text(ui.get("/ui/audit", Some("admin"), true).await).await;
    assert!(page.contains("发布紧急提示"), "{page}");
    assert!(page.contains("批准素材"), "{page}");
    // 2026-11-30 10:00 Shanghai + 129 minutes.
    assert!(page.contains("2026年11月30日 12:09"), "{page}");
    assert!(page.contains("<div>material_id: m-129</div>"), "{page}");
    assert!(
        page.contains("<div>targets: sites abc-gaogang, icbc-gaogang</div>"),
        "{page}"
    );
    assert!(
        page.contains("<div>until: 2026年11月30日 11:00</div>"),
        "{page}"
    );
    assert!(!page.contains(r#"{&quot;material_id"#), "raw JSON: {page}");

    let page = text(
        ui.get("/ui/audit?actor=li.editor&action=", Some("admin"), true)
            .await,
    )
    .await;
    assert!(page.contains("target-128"), "{page}");
    assert!(
        !page.contains("target-129"),
        "another person's entry: {page}"
    );
    assert!(!page.contains("批准素材</td>"), "{page}");
    // 65 of li.editor's entries: one page of 100 holds them all.
    assert!(!page.contains("audit?before="), "{page}");

    let page = text(
        ui.get(
            "/ui/audit?actor=&action=material.approved",
            Some("admin"),
            true,
        )
        .await,
    )
    .await;
    assert!(page.contains("target-129"), "{page}");
    assert!(!page.contains("target-128"), "{page}");

    // All 130 (plus the seed's): the older page keeps the filters.
    let page = text(
        ui.get(
            "/ui/audit?actor=wang.approver&action=material.approved",
            Some("admin"),
            true,
        )
        .await,
    )
    .await;
    assert!(
        !page.contains("audit?before="),
        "65 fit on one page: {page}"
    );
    let page = text(ui.get("/ui/audit", Some("admin"), true).await).await;
    let older = page
        .split("/ui/audit?before=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older entries")
        .replace("&amp;", "&");
    assert!(older.ends_with("&actor=&action="), "{older}");
    let page = text(
        ui.get(&format!("/ui/audit?before={older}"), Some("admin"), true)
            .await,
    )
    .await;
    assert!(page.contains("target-0"), "{page}");
    assert!(!page.contains("target-129"), "{page}");

    let english = text(
        app(ui.state.clone())
            .oneshot(
                Request::builder()
                    .uri("/ui/audit?actor=li.editor")
                    .header(header::AUTHORIZATION, "Bearer token-admin")
                    .header(header::ACCEPT, "text/html")
                    .header(header::COOKIE, "ledcast_lang=en")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap(),
    )
    .await;
    assert!(english.contains("Urgent alert published"), "{english}");
    assert!(english.contains("30 Nov 2026 12:08"), "{english}");
    ui.db.finish().await;
}

/// Issue 19, point 4: each account's row says whether it is in use and
/// offers the admin's chores: disable (not on the admin's own row, which
/// says it is theirs), enable again, reset the password.
#[tokio::test]
async fn the_users_page_offers_disable_enable_and_reset_but_not_disabling_oneself() {
    let ui = Ui::new().await;
    ui.state
        .store
        .set_user_disabled("editor", Some(crate::http::tests::TEST_NOW.as_millis()))
        .await
        .unwrap();
    let page = text(ui.get("/ui/users", Some("admin"), true).await).await;
    let row = |name: &str| -> String {
        page.split("<tr>")
            .find(|row| row.contains(&format!("<td>{name}</td>")))
            .unwrap_or_else(|| panic!("no row for {name}: {page}"))
            .to_owned()
    };
    let editor = row("editor");
    assert!(editor.contains("已停用"), "{editor}");
    assert!(
        editor.contains(r#"class="enable-user" data-user="editor""#),
        "{editor}"
    );
    assert!(!editor.contains("disable-user"), "{editor}");
    let approver = row("approver");
    assert!(approver.contains("正常使用"), "{approver}");
    assert!(
        approver.contains(r#"class="secondary disable-user" data-user="approver""#),
        "{approver}"
    );
    let admin = row("admin");
    assert!(admin.contains("（这是您本人）"), "{admin}");
    assert!(
        !admin.contains("disable-user"),
        "no way to disable oneself: {admin}"
    );
    for name in ["admin", "editor", "approver", "branch-b"] {
        assert!(
            row(name).contains(&format!(
                r#"class="secondary reset-password" data-user="{name}""#
            )),
            "{name}"
        );
    }
    ui.db.finish().await;
}

/// Issue 19, point 1: pressing 检查 in the builder lists the clerk's own
/// mistake first, in Chinese, with its file and line beside it; the notes
/// about other files come after it (the page folds them away); English
/// for a user who chose English.
#[tokio::test]
async fn the_builder_check_says_a_bad_time_in_chinese_and_lists_the_own_file_first() {
    let ui = Ui::new().await;
    let site = r#"
[[profiles]]
id = "door"
width = 352
height = 80
color = "mono"
scroll = true

[[sites]]
id = "site-a"

[[screens]]
id = "screen-a"
site = "site-a"
profile = "door"
tags = ["bank-door"]

[[playlists]]
id = "county"
items = [{ material = "m1" }]

[[schedules]]
id = "county-day"
playlist = "county"
tags = ["no-such-tag"]
"#;
    let mine = r#"# made in the web UI

[[playlists]]
id = "mine"
items = [
  { material = "m1" },
]

[[schedules]]
id = "mine-schedule"
playlist = "mine"
sites = ["site-a"]
days = "mon-sun"
hours = "08:00-2000"
priority = 0
"#;
    let check = |lang: &'static str| {
        let body = serde_json::json!({
            "files": [
                {"name": "demo.toml", "text": site},
                {"name": "ui-mine.toml", "text": mine},
            ],
            "dry_run": true,
            "own_file": "ui-mine.toml",
        });
        app(ui.state.clone()).oneshot(
            Request::builder()
                .method("POST")
                .uri("/api/v1/apply")
                .header(header::AUTHORIZATION, "Bearer token-editor")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, format!("ledcast_lang={lang}"))
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    };
    let response = check("zh-CN").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    let diagnostics = body["diagnostics"].as_array().unwrap();
    let first = &diagnostics[0];
    assert_eq!(
        first["text"], "排期“mine-schedule”：“2000”不是时间，应写成 17:30 这样的格式",
        "{body}"
    );
    assert!(
        first["hint_text"]
            .as_str()
            .unwrap()
            .starts_with("时段写成 08:30-17:30"),
        "{first}"
    );
    assert_eq!(first["where"], "ui-mine.toml:14:9", "{first}");
    assert_eq!(first["own"], true);
    assert_eq!(first["key"], "hours_not_a_time");
    assert_eq!(
        first["message"], "schedule `mine-schedule`: `2000` is not a time like `17:30`",
        "the English message stays for API clients"
    );
    let others: Vec<&serde_json::Value> = diagnostics.iter().skip(1).collect();
    assert!(!others.is_empty(), "{body}");
    assert!(
        others.iter().all(|d| d["own"] == false),
        "the own file's diagnostics come first: {body}"
    );
    assert!(
        others
            .iter()
            .any(|d| d["text"] == "排期“county-day”：没有屏幕带有标签“no-such-tag”"),
        "{body}"
    );

    let response = check("en").await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(
        body["diagnostics"][0]["text"],
        "schedule `mine-schedule`: `2000` is not a time like `17:30`"
    );
    ui.db.finish().await;
}

/// Issue 19, point 1: a reason with its own key is said in words too, a
/// suggestion becomes the hint, and a key the catalogue does not know
/// keeps the compiler's English.
#[test]
fn diagnostics_are_said_with_their_reasons_and_unknown_keys_stay_english() {
    use ledcast_compiler::{Diagnostic, Location};
    let at = Location::file_only("playlists.toml");
    let skipped = Diagnostic::warning(&at, "playlist `loop`: `std-poster` is skipped on profile `counter`: a poster on a 192×32 text scroller")
        .with_key(
            "skipped_on_profile",
            [
                ("owner_kind", "playlist"),
                ("owner", "loop"),
                ("id", "std-poster"),
                ("profile", "counter"),
                ("why", "a poster on a 192×32 text scroller"),
                ("why_key", "poster_on_scroller"),
            ],
        );
    let (text, _) = crate::i18n::diagnostics::said(Lang::ZhCn, &skipped);
    assert_eq!(
        text,
        "播放列表“loop”：“std-poster”在屏幕型号 counter 上跳过：这是只能滚动文字的条屏，不能显示海报"
    );
    let unknown = Diagnostic::error(&at, "schedule `s`: unknown playlist `mien`")
        .with_hint("did you mean `mine`?")
        .with_key(
            "unknown_playlist",
            [
                ("owner_kind", "schedule"),
                ("owner", "s"),
                ("id", "mien"),
                ("did_you_mean", "mine"),
            ],
        );
    assert_eq!(
        crate::i18n::diagnostics::said(Lang::ZhCn, &unknown),
        (
            "排期“s”：没有编号为“mien”的播放列表".to_owned(),
            Some("是不是要写“mine”？".to_owned())
        )
    );
    let new_key =
        Diagnostic::error(&at, "something new").with_key("not_in_any_catalogue", [("x", "y")]);
    assert_eq!(
        crate::i18n::diagnostics::said(Lang::ZhCn, &new_key),
        ("something new".to_owned(), None)
    );
}

/// Issue 19, point 2: a playlist reads as its loop: each material's LED
/// thumbnail and title in order, and a query said in words (the TOML only
/// in the tooltip); schedules name the playlist, not its id.
#[tokio::test]
async fn playlists_show_thumbnails_titles_and_queries_in_words() {
    let ui = Ui::new().await;
    let store = &ui.state.store;
    let m1 = store
        .list_materials(&crate::store::MaterialFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id == "m1")
        .unwrap();
    let thumb = ui.state.media.put(b"led preview").await.unwrap().to_hex();
    store
        .upsert_rendition(&crate::store::RenditionRow {
            material_id: "m1".into(),
            profile_id: "door-352x80".into(),
            sha256: thumb.clone(),
            size_bytes: 11,
            mime: "image/png".into(),
            width: 352,
            height: 80,
            facts: None,
        })
        .await
        .unwrap();
    store
        .replace_playlist_files(
            &[crate::store::PlaylistFile {
                name: "ui-loop.toml".into(),
                text: r#"
[[playlists]]
id = "branch-loop"
name = "网点日常轮播"
items = [
  { material = "m1", seconds = 8 },
  { kind = "video", tags = ["防诈"], newest = 3 },
]

[[schedules]]
id = "branch-loop-weekdays"
playlist = "branch-loop"
sites = ["site-b"]
days = "mon-fri"
hours = "09:00-17:00"
"#
                .into(),
            }],
            "admin",
            1,
        )
        .await
        .unwrap();
    let page = text(ui.get("/ui/playlists", Some("admin"), true).await).await;
    let list = page
        .split("class=\"loop-items\"")
        .nth(1)
        .and_then(|rest| rest.split("</ol>").next())
        .expect("the playlist's items as a list");
    // The material: its thumbnail, then its (escaped) title, linking to it.
    let item = list.find("href=\"/ui/materials/m1\"").expect(list);
    let img = list.find(&format!("src=\"/media/{thumb}\"")).expect(list);
    let title = list.find(&minijinja_escaped(&m1.title)).expect(list);
    assert!(item < img && img < title, "{list}");
    // The query, in words; its TOML only in the tooltip.
    let said = "自动选取：视频，标签 #防诈，最新 3 条";
    let picks = list
        .find(said)
        .unwrap_or_else(|| panic!("{said} in {list}"));
    assert!(title < picks, "in loop order: {list}");
    assert!(
        !list.contains(">{ kind") && !list.contains(">{kind"),
        "raw TOML shown as the item: {list}"
    );
    // The schedule names its playlist.
    assert!(
        page.contains(r#"<td title="branch-loop">网点日常轮播</td>"#),
        "{page}"
    );
    ui.db.finish().await;
}

/// What minijinja's HTML escaping makes of `text` (the page shows titles
/// escaped).
fn minijinja_escaped(text: &str) -> String {
    minijinja::HtmlEscape(text).to_string()
}
