//! Videos meet the screens' player boxes (issue 22, item 2), as a clerk
//! meets it: an upload that no profile can play is refused with each
//! profile's reason, Chinese first, and nothing is stored; a video that one
//! profile's box cannot decode is a problem on that profile in the upload's
//! answer and on the material page, and a playlist that names it for those
//! screens is refused with the diagnostic said in Chinese.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::tests::{add_users, test_state};
use super::AppState;
use crate::router::app;
use crate::store::Role;

/// A 1920×1080 H.265 clip (2 s, 14 KB; `media/videos/make_videos.sh`).
const H265_1080P: &[u8] = include_bytes!("../../../media/videos/fixtures/h265-1920x1080.mp4");

/// A service hall with a 192×96 video box whose player decodes the default
/// (H.264 up to 1920×1080), and, when `with_lobby`, a lobby player that
/// decodes H.265 too; `loop` (the default playlist) holds `items`.
fn files(with_lobby: bool, items: &str) -> Value {
    let mut site = String::from(
        r#"
[settings]
default_playlist = "loop"

[[profiles]]
id = "hall-box"
width = 192
height = 96
color = "full"
video = true

[[sites]]
id = "hall"
opening_hours = { "mon-sun" = "08:00-18:00" }

[[screens]]
id = "hall-1"
site = "hall"
profile = "hall-box"
"#,
    );
    if with_lobby {
        site.push_str(
            r#"
[[profiles]]
id = "lobby"
width = 1920
height = 1080
color = "full"
video = true
video_codecs = ["h264", "h265"]

[[screens]]
id = "lobby-1"
site = "hall"
profile = "lobby"
"#,
        );
    }
    json!([
        {"name": "site.toml", "text": site},
        {"name": "loop.toml", "text": format!("[[playlists]]\nid = \"loop\"\nitems = {items}\n")},
    ])
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    state.compile_lock.settle_all().await;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn apply(files: Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/api/v1/apply")
        .header(header::AUTHORIZATION, "Bearer token-editor")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"files": files}).to_string()))
        .unwrap()
}

fn upload(id: &str, bytes: &[u8]) -> Request<Body> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--XyZ\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n{id}\r\n").as_bytes(),
    );
    body.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n\r\n",
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    Request::builder()
        .method(Method::POST)
        .uri("/api/v1/materials")
        .header(header::AUTHORIZATION, "Bearer token-editor")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
        .body(Body::from(body))
        .unwrap()
}

async fn state_with_users(db: &crate::store::testing::TestDb, dir: &std::path::Path) -> AppState {
    let state = test_state(&db.store, dir).await;
    add_users(
        &state.store,
        &[
            ("editor", Role::Editor, vec![]),
            ("approver", Role::Approver, vec![]),
        ],
    )
    .await;
    state
}

#[tokio::test]
async fn a_video_no_screen_can_play_is_refused_at_upload_with_each_reason_in_chinese_first() {
    let db = crate::store::testing::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_users(&db, dir.path()).await;
    let (status, body) = send(&state, apply(files(false, r#"[{ kind = "video" }]"#))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = send(&state, upload("clip", H265_1080P)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "video_unplayable", "{body}");
    // The web UI says it in the user's language alone.
    assert_eq!(body["message"]["key"], "upload_video_unplayable", "{body}");
    assert!(
        body["message"]["params"]["why_zh"]
            .as_str()
            .is_some_and(|why| why.starts_with("没有一种屏幕能播放这个视频")),
        "{body}"
    );
    assert_eq!(
        body["detail"],
        "没有一种屏幕能播放这个视频，所以没有保存。屏幕型号 hall-box：它是 H.265 编码的视频，这种屏幕的播放盒只能解码 H.264 \
         / no screen can play this video, so it was not stored. profile hall-box: it is H.265 video and the player box decodes only H.264"
    );
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains("H.264 of at most 1920×1080"),
        "{body}"
    );
    assert!(
        state
            .store
            .list_materials(&Default::default())
            .await
            .unwrap()
            .is_empty(),
        "nothing is stored"
    );
    db.finish().await;
}

#[tokio::test]
async fn a_video_one_box_cannot_decode_is_flagged_there_and_naming_it_for_that_box_is_refused() {
    let db = crate::store::testing::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_users(&db, dir.path()).await;
    let (status, body) = send(&state, apply(files(true, r#"[{ kind = "video" }]"#))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Stored: the lobby plays it; the hall box's problem is in the answer.
    let (status, body) = send(&state, upload("clip", H265_1080P)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let on = |profile: &str| {
        body["legibility"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["profile_id"] == profile)
            .cloned()
            .unwrap_or_else(|| panic!("no {profile} in {body}"))
    };
    assert_eq!(on("lobby")["legible"], true, "{body}");
    let hall = on("hall-box");
    assert_eq!(hall["legible"], false, "{body}");
    assert_eq!(hall["problems"][0]["code"], "video_codec");
    assert_eq!(
        hall["problems"][0]["zh-CN"],
        "这种屏幕的播放盒放不了这个视频：它是 H.265 编码的视频，这种屏幕的播放盒只能解码 H.264。请转成 H.264、画面不超过 1920×1080 后重新上传"
    );

    // The material page says it where the approver decides.
    let page = app(state.clone())
        .oneshot(
            Request::builder()
                .uri("/ui/materials/clip")
                .header(header::AUTHORIZATION, "Bearer token-approver")
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = String::from_utf8(
        axum::body::to_bytes(page.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        html.contains("它是 H.265 编码的视频，这种屏幕的播放盒只能解码 H.264"),
        "{html}"
    );

    let (status, body) = send(
        &state,
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/materials/clip/approve")
            .header(header::AUTHORIZATION, "Bearer token-approver")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Naming it in the playlist both screens play is refused, in Chinese.
    let (status, body) = send(&state, apply(files(true, r#"[{ material = "clip" }]"#))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let said: Vec<(&str, &str)> = body["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["text"].as_str().unwrap(),
                d["hint_text"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        said,
        [(
            "播放列表“loop”：视频“clip”在屏幕型号 hall-box（屏幕 hall-1）上放不了：它是 H.265 编码的视频，这种屏幕的播放盒只能解码 H.264；这些屏幕上不播放它",
            "把视频转成 H.264、画面不超过 1920×1080 后重新上传，或只排到能播放它的屏幕上"
        )],
        "{body}"
    );
    db.finish().await;
}

/// A video rendition stored before its codec was recorded is made again,
/// so an H.265 clip uploaded earlier is judged like a new one.
#[tokio::test]
async fn a_video_rendition_stored_without_its_codec_is_made_again_and_judged() {
    let db = crate::store::testing::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_users(&db, dir.path()).await;
    let (status, body) = send(&state, apply(files(true, r#"[{ kind = "video" }]"#))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(&state, upload("clip", H265_1080P)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // As an older server stored them: facts without the codec.
    for mut row in state.store.list_renditions().await.unwrap() {
        row.facts = Some(r#"{"lit_pixels":null,"problems":[]}"#.to_owned());
        state.store.upsert_rendition(&row).await.unwrap();
    }
    let made = crate::materials::ensure_renditions(&state).await.unwrap();
    assert_eq!(made, 2, "both video renditions are made again");
    let report = crate::legibility::material_report(&state, "clip")
        .await
        .unwrap();
    let hall = report.iter().find(|l| l.profile_id == "hall-box").unwrap();
    assert_eq!(
        hall.problems
            .iter()
            .map(|p| p.code.as_str())
            .collect::<Vec<_>>(),
        ["video_codec"]
    );
    let catalog = crate::applied::catalog(&state).await.unwrap();
    assert_eq!(
        catalog.get("clip").unwrap().renditions["hall-box"].video_codec,
        Some(ledcast_compiler::model::VideoCodec::H265)
    );
    db.finish().await;
}
