//! The driver against real components: an in-process rumqttd broker on a
//! free loopback port, and a small axum server standing in for the ledcast
//! server's media, rotation and screenshot endpoints. A test MQTT client
//! plays the server's part on the broker (publishes signed rotations,
//! commands and acks; reads state and play batches).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use image::RgbImage;
use ledcast_protocol::v1::{
    self, Command, CommandAction, Presence, ScreenId, Sha256, Timestamp, TopicKind, TrustedKey,
};
use sha2::Digest;

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plays_a_signed_rotation_reports_every_play_and_ignores_forgeries() {
    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let blue = png(BLUE);
    let green = png(GREEN);
    for bytes in [&blue, &green] {
        let m = media_ref(bytes);
        http_state
            .lock()
            .unwrap()
            .media
            .insert(m.sha256.to_hex(), (bytes.clone(), Serve::Correct));
    }
    let server = start_server_client(port, true).await;
    let good = rotation(1, screen(), &[&blue, &green], 300);
    server
        .publish(TopicKind::Rotation, v1::seal(&good, &server_key()))
        .await;

    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let config = config(dir.path());
    let frame_path: PathBuf = config.png_path();
    let agent = start_agent(config);

    // Receives, downloads, switches.
    wait_for("rotation 1 in state", 10_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.rotation_version == Some(1) && !s.stale)
    })
    .await;
    wait_for(
        "a poster on screen",
        5_000,
        || matches!(frame_pixel(&frame_path), Some(p) if p == BLUE || p == GREEN),
    )
    .await;
    assert!(dir.path().join("state/rotation-current.env").exists());

    // Plays, journals, publishes signed batches; the acks delete the journal.
    wait_for("20 acknowledged plays", 15_000, || {
        let seen = server.seen.lock().unwrap();
        seen.batches.iter().map(|b| b.records.len()).sum::<usize>() >= 20
    })
    .await;
    {
        let seen = server.seen.lock().unwrap();
        let mut seqs: Vec<u64> = seen
            .batches
            .iter()
            .flat_map(|b| b.records.iter().map(|r| r.seq))
            .collect();
        let sent = seqs.len();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.first(), Some(&1));
        assert_eq!(*seqs.last().unwrap() as usize, seqs.len(), "no gap in seq");
        assert!(
            sent - seqs.len() <= 5,
            "few resends while acks flow: {sent} vs {}",
            seqs.len()
        );
        let posters = seen
            .batches
            .iter()
            .flat_map(|b| b.records.iter())
            .filter(|r| r.rotation_version == Some(1))
            .count();
        assert!(posters >= 15, "{posters}");
        assert!(seen
            .batches
            .iter()
            .flat_map(|b| b.records.iter())
            .all(|r| { r.ended_at.is_some_and(|e| e >= r.started_at) }));
    }
    // 5 records per segment: ≥ 20 plays made ≥ 4 segments; acked ones are gone.
    wait_for("acked segments deleted", 5_000, || {
        segment_files(dir.path()) <= 2
    })
    .await;

    // A forged, a replayed and an other-screen rotation change nothing.
    let attacker = SigningKey::from_bytes(&[66; 32]);
    let white = png([255, 255, 255]);
    let forged = rotation(2, screen(), &[&white], 300);
    server
        .publish(TopicKind::Rotation, v1::seal(&forged, &attacker))
        .await;
    let other = rotation(3, ScreenId::new("branch-2-door").unwrap(), &[&white], 300);
    server
        .publish(TopicKind::Rotation, v1::seal(&other, &server_key()))
        .await;
    server
        .publish(TopicKind::Rotation, v1::seal(&good, &server_key()))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let white_sha = media_ref(&white).sha256.to_hex();
    assert!(
        !http_state
            .lock()
            .unwrap()
            .requests
            .iter()
            .any(|(sha, _)| *sha == white_sha),
        "forged media never fetched"
    );
    let state = server.latest_state().unwrap();
    assert_eq!(state.rotation_version, Some(1));
    assert_eq!(state.pending_version, None);
    assert!(matches!(frame_pixel(&frame_path), Some(p) if p == BLUE || p == GREEN));

    // A signed screenshot command uploads the frame on screen, signed.
    let command = Command {
        screen_id: screen(),
        command_id: "shot-1".into(),
        issued_at: wall_now(),
        expires_at: wall_now().plus_ms(60_000),
        action: CommandAction::Screenshot,
    };
    server
        .publish(TopicKind::Command, v1::seal(&command, &server_key()))
        .await;
    wait_for("a screenshot upload", 5_000, || {
        !http_state.lock().unwrap().screenshots.is_empty()
    })
    .await;
    {
        let s = http_state.lock().unwrap();
        let (headers, body) = &s.screenshots[0];
        let at: i64 = headers[v1::HEADER_TIMESTAMP]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let digest = Sha256(sha2::Sha256::digest(body).into());
        assert!(v1::verify_upload(
            &TrustedKey::new(device_key().verifying_key()),
            &screen(),
            Timestamp(at),
            &digest,
            headers[v1::HEADER_SIGNATURE].to_str().unwrap(),
        ));
        let shot = image::load_from_memory(body).unwrap().to_rgb8();
        assert_eq!((shot.width(), shot.height()), (352, 80));
    }

    // Shutdown: offline is published (retained) and the run ends cleanly.
    agent.stop().await;
    wait_for("offline state", 3_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.status == Presence::Offline)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_bytes_never_enter_the_cache_and_the_screen_keeps_playing() {
    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    // Big enough that half of it is a meaningful partial download.
    let blue = png(BLUE);
    let mut noise = RgbImage::new(352, 80);
    for (i, p) in noise.pixels_mut().enumerate() {
        *p = image::Rgb([(i * 7) as u8, (i * 13) as u8, (i * 29) as u8]);
    }
    let green = ledcast_agent::display::encode_png(&noise).unwrap();
    let (blue_ref, green_ref) = (media_ref(&blue), media_ref(&green));
    {
        let mut s = http_state.lock().unwrap();
        s.media
            .insert(blue_ref.sha256.to_hex(), (blue.clone(), Serve::WrongBytes));
        s.media
            .insert(green_ref.sha256.to_hex(), (green.clone(), Serve::CutAtHalf));
    }
    let server = start_server_client(port, true).await;
    let r = rotation(1, screen(), &[&blue, &green], 500);
    server
        .publish(TopicKind::Rotation, v1::seal(&r, &server_key()))
        .await;

    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let config = config(dir.path());
    let frame_path = config.png_path();
    let cache_media = config.cache_dir().join("media");
    let agent = start_agent(config);

    wait_for("rotation pending", 10_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.pending_version == Some(1))
    })
    .await;
    // Several retries of both downloads happen; none enters the cache.
    wait_for("retries", 5_000, || {
        let s = http_state.lock().unwrap();
        s.requests
            .iter()
            .filter(|(sha, _)| *sha == blue_ref.sha256.to_hex())
            .count()
            >= 3
    })
    .await;
    assert!(!cache_media.join(blue_ref.sha256.to_hex()).exists());
    assert!(!cache_media.join(green_ref.sha256.to_hex()).exists());
    let state = server.latest_state().unwrap();
    assert_eq!(state.rotation_version, None);
    assert!(state.stale);
    assert!(state.last_error.is_some());
    // The built-in warning is on screen meanwhile (red text on black).
    let frame = image::load_from_memory(&std::fs::read(&frame_path).unwrap())
        .unwrap()
        .to_rgb8();
    assert!(frame.pixels().any(|p| p.0 == [255, 0, 0]));

    // The server is fixed: the cut download resumes from where it stopped.
    {
        let mut s = http_state.lock().unwrap();
        for entry in s.media.values_mut() {
            entry.1 = Serve::Correct;
        }
    }
    wait_for("rotation 1 playing", 10_000, || {
        server
            .latest_state()
            .is_some_and(|s| s.rotation_version == Some(1))
    })
    .await;
    let half = green.len() / 2;
    assert!(http_state
        .lock()
        .unwrap()
        .requests
        .iter()
        .any(|(sha, range)| *sha == green_ref.sha256.to_hex()
            && range.as_deref() == Some(format!("bytes={half}-").as_str())));
    assert_eq!(
        std::fs::read(cache_media.join(green_ref.sha256.to_hex())).unwrap(),
        green
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_the_rotation_is_polled_over_http() {
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let blue = png(BLUE);
    let m = media_ref(&blue);
    let r = rotation(7, screen(), &[&blue], 60_000);
    {
        let mut s = http_state.lock().unwrap();
        s.media
            .insert(m.sha256.to_hex(), (blue.clone(), Serve::Correct));
        s.rotation = Some(v1::seal(&r, &server_key()));
    }
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    enroll(dir.path(), free_port(), &http);
    let mut config = config(dir.path());
    config.mqtt.rotation_poll_after_seconds = 0;
    config.mqtt.rotation_poll_interval_seconds = 1;
    let frame_path = config.png_path();
    let agent = start_agent(config);
    wait_for("the polled rotation on screen", 10_000, || {
        frame_pixel(&frame_path) == Some(BLUE)
    })
    .await;
    agent.stop().await;
    // The journal kept the records for when the broker is back.
    let journal = ledcast_agent::journal::Journal::open(
        &dir.path().join("journal"),
        ledcast_protocol::v1::BootId::new("later").unwrap(),
        ledcast_agent::journal::JournalLimits {
            max_bytes: 1 << 20,
            alarm_percent: 80,
            segment_records: 5,
        },
    )
    .unwrap();
    let batch = journal.next_batch(100, None).unwrap().unwrap();
    assert!(batch.records.iter().any(|r| r.rotation_version == Some(7)));
}
