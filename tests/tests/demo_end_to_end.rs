//! The README's demo, end to end with real components: the server on
//! SQLite, the embedded broker, the demo site and one in-process agent per
//! demo screen. Every screen must end up playing its signed rotation, with
//! its frame on disk at the profile's native size, and its play records
//! stored on the server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ledcast_server::demo::{self, DemoArgs};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Width and height from a PNG's IHDR.
fn png_size(path: &Path) -> Option<(u32, u32)> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 24 || &bytes[1..4] != b"PNG" {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    Some((word(16), word(20)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_screen_plays_its_signed_rotation_and_reports_plays() {
    let data = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let demo = demo::start(
        DemoArgs {
            data_dir: Some(data.path().to_path_buf()),
            playlists: repo_root().join("playlists"),
            media: repo_root().join("media"),
            no_agents: false,
            broker_url: None,
        },
        async {
            let _ = stopped.await;
        },
    )
    .await
    .expect("the demo starts");
    let store = demo.running.state.store.clone();
    let profiles = store.list_profiles().await.unwrap();
    let screens = store.list_screens(None).await.unwrap();
    assert!(
        screens.len() >= 10,
        "the demo site has its screens: {}",
        screens.len()
    );

    // Within 90 s every screen reports the desired version, online.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let lagging = loop {
        let versions = store.screen_versions().await.unwrap();
        let lagging: Vec<String> = versions
            .iter()
            .filter(|v| {
                v.desired_version.is_none()
                    || v.reported_version != v.desired_version
                    || v.status != "online"
            })
            .map(|v| {
                format!(
                    "{} {:?}/{:?} {}",
                    v.screen_id, v.reported_version, v.desired_version, v.status
                )
            })
            .collect();
        if lagging.is_empty() || tokio::time::Instant::now() > deadline {
            break lagging;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        lagging.is_empty(),
        "screens not playing their desired rotation: {lagging:?}"
    );

    // Each agent's frame is on disk at the profile's native size.
    for screen in &screens {
        let profile = profiles.iter().find(|p| p.id == screen.profile_id).unwrap();
        let frame = demo
            .data_dir
            .join("agents")
            .join(&screen.id)
            .join("frame.png");
        assert_eq!(
            png_size(&frame),
            Some((profile.width, profile.height)),
            "{}: frame {} at the profile size",
            screen.id,
            frame.display()
        );
    }

    // Play records reach the server (first items end within one slot; the
    // agents report start records straight away and ends as they happen).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let missing = loop {
        let mut missing = Vec::new();
        for screen in &screens {
            let records = store
                .play_records(&screen.id, 0, i64::MAX, 10)
                .await
                .unwrap();
            if records.is_empty() {
                missing.push(screen.id.clone());
            }
        }
        if missing.is_empty() || tokio::time::Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(missing.is_empty(), "no play records from: {missing:?}");

    let _ = stop.send(());
    demo.wait().await.expect("the demo stops cleanly");
}
