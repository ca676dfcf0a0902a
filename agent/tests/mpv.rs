//! Video slots go to an `mpv` subprocess when one is on PATH: a stand-in
//! `mpv` script records its arguments; the next item stops it.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use ledcast_agent::config::{DisplayConfig, SinkKind};
use ledcast_agent::display::Screen;
use ledcast_agent::player::{Content, Showing};
use ledcast_protocol::v1::{Sha256, SlotKind, Timestamp};

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
