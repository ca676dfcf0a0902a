//! Video slots go to an `mpv` subprocess when one is on PATH: a stand-in
//! `mpv` script records its arguments; the next item stops it. The whole
//! agent against a stand-in that dies mid-slot: the play record ends when
//! it died and the fallback that filled the slot is recorded as such.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use ledcast_agent::config::{DisplayConfig, SinkKind};
use ledcast_agent::display::Screen;
use ledcast_agent::player::{Content, Showing};
use ledcast_protocol::v1::{
    self, Block, MediaRef, PlayOutcome, Rotation, Sha256, Slot, SlotKind, Timestamp, TopicKind,
};
use sha2::Digest;

mod common;
use common::*;

#[test]
fn video_slots_play_in_mpv_and_stop_at_the_next_item() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("mpv-args");
    let script = bin.join("mpv");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\nexec sleep 30\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // This test binary is its own process: changing PATH affects no other test.
    std::env::set_var("PATH", &bin);

    let config = DisplayConfig {
        sink: SinkKind::None,
        width_px: 192,
        height_px: 32,
        ..DisplayConfig::default()
    };
    let mut screen = Screen::from_config(&config, &dir.path().join("frame.png")).unwrap();
    assert!(screen.video_supported());
    let video = Showing {
        content: Content::Media {
            media: Sha256([1; 32]),
            kind: SlotKind::Video,
        },
        seq: 1,
        slot_started_at: Timestamp(0),
        started_at: Timestamp(0),
        ends_at: Timestamp(10_000),
        fallback: false,
        material_id: "clip".into(),
        rotation_version: Some(1),
        is_warning: true,
    };
    let media_path = dir.path().join("clip.mp4");
    screen
        .show(&video, None, Some(&media_path), Timestamp(0))
        .unwrap();
    for _ in 0..100 {
        if log.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let args = std::fs::read_to_string(&log).unwrap();
    assert!(args.contains("--geometry=192x32+0+0"), "{args}");
    assert!(args.contains(media_path.to_str().unwrap()), "{args}");

    let next = Showing {
        content: Content::Builtin { index: 0 },
        seq: 2,
        ..video
    };
    screen.show(&next, None, None, Timestamp(10_000)).unwrap();
    assert!(screen.screenshot_png().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_player_killed_mid_slot_ends_the_record_and_the_fallback_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // The stand-in mpv: says who it is, then plays "forever". Absolute
    // paths: the other test in this binary replaces PATH.
    let pids = dir.path().join("mpv-pids");
    let script = dir.path().join("fake-mpv");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ >> {}\nexec /bin/sleep 60\n",
            pids.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let clip = b"an mp4 as far as the agent cares: it checks the hash, mpv decodes".to_vec();
    let blue = png(BLUE);
    for bytes in [&clip, &blue] {
        http_state
            .lock()
            .unwrap()
            .media
            .insert(hex_sha(bytes), (bytes.clone(), Serve::Correct));
    }
    let clip_ref = MediaRef {
        sha256: Sha256(sha2::Sha256::digest(&clip).into()),
        size_bytes: clip.len() as u64,
        mime: "video/mp4".into(),
        width: 352,
        height: 80,
    };
    let blue_ref = media_ref(&blue);
    let now = wall_now();
    let rotation = Rotation {
        screen_id: screen(),
        version: 1,
        issued_at: now.plus_ms(-1000),
        expires_at: now.plus_ms(24 * 3_600_000),
        timezone: "Asia/Shanghai".into(),
        blocks: vec![Block {
            from: now.plus_ms(-60_000),
            until: now.plus_ms(3_600_000),
            priority: 0,
            slots: vec![Slot {
                media: clip_ref.sha256,
                duration_ms: 4_000,
                kind: SlotKind::Video,
                material_id: "clip".into(),
                is_warning: true,
            }],
        }],
        fallback: vec![Slot {
            media: blue_ref.sha256,
            duration_ms: 60_000,
            kind: SlotKind::Still,
            material_id: "standard-warning".into(),
            is_warning: true,
        }],
        media: vec![clip_ref, blue_ref],
        brightness: vec![],
    };
    let server = start_server_client(port, true).await;
    server
        .publish(TopicKind::Rotation, v1::seal(&rotation, &server_key()))
        .await;

    enroll(dir.path(), port, &http);
    let mut config = config(dir.path());
    config.display.mpv_path = Some(script.clone());
    let frame_path = config.png_path();
    let agent = start_agent(config);

    // The video slot starts: the stand-in runs.
    wait_for("the video player started", 20_000, || {
        std::fs::read_to_string(&pids).is_ok_and(|p| !p.trim().is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = std::fs::read_to_string(&pids).unwrap().trim().to_owned();
    let killed_at = wall_now();
    let status = std::process::Command::new("/bin/kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(status.success());

    // The fallback poster fills the rest of the slot, on the glass and in the journal.
    wait_for("the fallback on screen", 3_000, || {
        frame_pixel(&frame_path) == Some(BLUE)
    })
    .await;
    wait_for(
        "the video's record and the fallback's, reported",
        10_000,
        || {
            let seen = server.seen.lock().unwrap();
            let records: Vec<_> = seen.batches.iter().flat_map(|b| b.records.iter()).collect();
            records
                .iter()
                .any(|r| r.material_id == "standard-warning" && r.ended_at.is_some())
        },
    )
    .await;
    let state = server.latest_state();
    agent.stop().await;

    let seen = server.seen.lock().unwrap();
    let mut records: Vec<_> = seen
        .batches
        .iter()
        .flat_map(|b| b.records.iter().cloned())
        .collect();
    records.sort_by_key(|r| r.seq);
    records.dedup_by_key(|r| r.seq);
    let video = records
        .iter()
        .find(|r| r.material_id == "clip")
        .expect("the video was recorded");
    let ended = video.ended_at.expect("the video's record ended");
    assert_eq!(video.outcome, PlayOutcome::Interrupted, "{video:?}");
    assert!(
        ended.as_millis() >= killed_at.as_millis()
            && ended.as_millis() <= killed_at.as_millis() + 1_000,
        "the record ends when mpv died ({} ms after the kill), not at the slot's end",
        ended.as_millis() - killed_at.as_millis()
    );
    assert!(ended.millis_since(video.started_at) < 4_000);
    let fallback = records
        .iter()
        .find(|r| r.seq > video.seq)
        .expect("a record follows the video");
    assert_eq!(fallback.material_id, "standard-warning", "{records:#?}");
    assert_eq!(fallback.media, blue_ref_sha(&blue));
    assert_eq!(
        fallback.started_at, ended,
        "no gap and no overlap on the glass"
    );
    assert!(
        state.is_some_and(|s| s
            .last_error
            .is_some_and(|e| e.contains("clip") && e.contains("exited"))),
        "the screen page shows why"
    );
}

fn hex_sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn blue_ref_sha(bytes: &[u8]) -> Sha256 {
    Sha256(sha2::Sha256::digest(bytes).into())
}
