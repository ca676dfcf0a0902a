//! The bridge sink against an emulated Huidu card on a local port, with the
//! real driver, broker and a stand-in server: the loop goes onto the card,
//! the card's readback lands in the signed state, play records say whether
//! the card confirmed their loop, and the card's faults (a reboot that
//! comes back with the old program, going offline) turn the records
//! unconfirmed until the agent has the card playing the loop again; and the
//! rotation's brightness windows reach the card without a new upload.

use std::sync::Arc;

use ledcast_agent::bridge::emulator::EmulatorServer;
use ledcast_agent::config::{BrightnessStep, SinkKind};
use ledcast_bridge::huidu::{DeviceConfig, Emulator, Fault};
use ledcast_protocol::v1::{
    self, BrightnessWindow, Command, CommandAction, PlayRecord, Sha256, TopicKind,
};
use sha2::Digest;

mod common;
use common::*;

fn records(server: &ServerClient) -> Vec<PlayRecord> {
    server
        .seen
        .lock()
        .unwrap()
        .batches
        .iter()
        .flat_map(|b| b.records.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_plays_the_uploaded_loop_and_the_records_say_when_it_confirmed_it() {
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
    let card = EmulatorServer::spawn(
        Emulator::new(DeviceConfig::door_strip(352, 80)),
        "127.0.0.1:0",
    )
    .unwrap();
    let server = start_server_client(port, true).await;
    let first = rotation(1, screen(), &[&blue, &green], 2_000);
    server
        .publish(TopicKind::Rotation, v1::seal(&first, &server_key()))
        .await;

    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let mut config = config(dir.path());
    config.display.sink = SinkKind::Bridge;
    config.display.bridge.address = card.addr.to_string();
    config.display.bridge.timeout_seconds = 2;
    config.display.bridge.check_interval_seconds = 1;
    config.display.bridge.retry_initial_ms = 100;
    config.display.bridge.retry_max_ms = 400;
    config.display.bridge.brightness = vec![
        BrightnessStep {
            start: "07:00".to_owned(),
            percent: 80,
        },
        BrightnessStep {
            start: "19:30".to_owned(),
            percent: 30,
        },
    ];
    let agent = start_agent(config);

    // The loop is on the card and the card confirms it.
    let loop_v1 = "branch-1-door-v1-b0";
    wait_for("the card confirms loop v1", 15_000, || {
        server
            .latest_state()
            .and_then(|s| s.bridge)
            .is_some_and(|b| {
                b.confirmed && b.uploaded_loop.as_deref() == Some(loop_v1) && b.reachable
            })
    })
    .await;
    let state = server.latest_state().unwrap().bridge.unwrap();
    let device = state.device.clone().unwrap();
    assert_eq!(
        (device.model.as_str(), device.width, device.height),
        ("HD-WF2", 352, 80)
    );
    assert_eq!(state.brightness_mode.as_deref(), Some("ploys"));
    assert_eq!(
        state.brightness_schedule.as_deref(),
        Some("07:00:00 80%, 19:30:00 30%")
    );
    assert!(state
        .playing_program
        .as_deref()
        .is_some_and(|p| p.starts_with(loop_v1)));
    {
        let card = card.card.lock().unwrap();
        let guids: Vec<&str> = card.programs().iter().map(|p| p.guid.as_str()).collect();
        assert_eq!(guids, vec![format!("{loop_v1}-0"), format!("{loop_v1}-1")]);
        assert_eq!(
            card.programs()
                .iter()
                .map(|p| p.duration_ms)
                .collect::<Vec<_>>(),
            vec![2_000, 2_000]
        );
        for bytes in [&blue, &green] {
            let hex = Sha256(sha2::Sha256::digest(bytes).into()).to_hex();
            let name = format!("ledcast-{}.png", &hex[..16]);
            assert_eq!(
                card.file(&name),
                Some(bytes.as_slice()),
                "{name} on the card"
            );
        }
    }
    // Records after the confirmation are bridged and confirmed.
    wait_for("confirmed bridged records", 15_000, || {
        records(&server).iter().any(|r| {
            r.bridge
                .as_ref()
                .is_some_and(|b| b.confirmed && b.vendor == "huidu")
        })
    })
    .await;
    assert!(
        records(&server).iter().all(|r| r.bridge.is_some()),
        "every record is bridged"
    );

    // A screenshot command: the card's own picture reaches the server.
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
    wait_for("the card's screenshot uploaded", 10_000, || {
        !http_state.lock().unwrap().screenshots.is_empty()
    })
    .await;
    let shot = http_state.lock().unwrap().screenshots[0].1.clone();
    // Kept for a person to look at (what the card said it shows).
    let keep = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp");
    let _ = std::fs::create_dir_all(&keep);
    let _ = std::fs::write(keep.join("bridge-card-screenshot.png"), &shot);
    let image = image::load_from_memory(&shot).unwrap().to_rgb8();
    assert_eq!((image.width(), image.height()), (352, 80));
    let [r, g, b] = image.get_pixel(100, 40).0;
    assert!(
        (b > 200 && g < 60) || (g > 200 && b < 60),
        "the card shows the blue or green poster, got {:?}",
        [r, g, b]
    );

    // A new version whose upload the card loses in a reboot.
    card.card.lock().unwrap().add_fault(Fault::ForgetsOnReboot);
    let second = rotation(2, screen(), &[&green, &blue], 2_000);
    server
        .publish(TopicKind::Rotation, v1::seal(&second, &server_key()))
        .await;
    let loop_v2 = "branch-1-door-v2-b0";
    wait_for("the card confirms loop v2", 15_000, || {
        server
            .latest_state()
            .and_then(|s| s.bridge)
            .is_some_and(|b| b.confirmed && b.uploaded_loop.as_deref() == Some(loop_v2))
    })
    .await;
    let before_reboot = records(&server).len();
    {
        let mut card = card.card.lock().unwrap();
        card.clear_faults();
        card.reboot(wall_now().as_millis());
        assert!(
            card.programs()[0].guid.starts_with(loop_v1),
            "back to the old program"
        );
    }
    wait_for(
        "the agent notices the old program and uploads again",
        15_000,
        || {
            let card = card.card.lock().unwrap();
            card.programs()
                .first()
                .is_some_and(|p| p.guid.starts_with(loop_v2))
                && server
                    .latest_state()
                    .and_then(|s| s.bridge)
                    .is_some_and(|b| b.confirmed)
        },
    )
    .await;
    wait_for("an unconfirmed record around the reboot", 15_000, || {
        records(&server)[before_reboot.min(records(&server).len())..]
            .iter()
            .any(|r| r.bridge.as_ref().is_some_and(|b| !b.confirmed))
    })
    .await;

    // The card goes offline: unreachable, unconfirmed, and back.
    card.card.lock().unwrap().add_fault(Fault::Offline);
    wait_for("the card reported unreachable", 15_000, || {
        server
            .latest_state()
            .and_then(|s| s.bridge)
            .is_some_and(|b| !b.reachable && !b.confirmed && b.last_error.is_some())
    })
    .await;
    let error = server
        .latest_state()
        .unwrap()
        .bridge
        .unwrap()
        .last_error
        .unwrap();
    assert!(error.contains("连接"), "{error}");
    card.card.lock().unwrap().clear_faults();
    wait_for("the card confirms again", 15_000, || {
        server
            .latest_state()
            .and_then(|s| s.bridge)
            .is_some_and(|b| b.reachable && b.confirmed)
    })
    .await;
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_any_rotation_the_card_gets_the_built_in_warnings_not_the_banks_old_program() {
    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let card = EmulatorServer::spawn(
        Emulator::new(DeviceConfig::door_strip(352, 80)),
        "127.0.0.1:0",
    )
    .unwrap();
    let server = start_server_client(port, true).await;
    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let mut config = config(dir.path());
    config.display.sink = SinkKind::Bridge;
    config.display.bridge.address = card.addr.to_string();
    config.display.bridge.check_interval_seconds = 1;
    let agent = start_agent(config);
    wait_for("the card confirms the built-in loop", 15_000, || {
        server
            .latest_state()
            .and_then(|s| s.bridge)
            .is_some_and(|b| {
                b.confirmed && b.uploaded_loop.as_deref() == Some("branch-1-door-builtin")
            })
    })
    .await;
    {
        let card = card.card.lock().unwrap();
        assert_eq!(card.programs().len(), 8, "the eight built-in warnings");
        // What the card shows is red warning text on black.
        let frame = card.frame_rgb(wall_now().as_millis());
        let red = frame
            .chunks(3)
            .filter(|p| p[0] > 200 && p[1] < 60 && p[2] < 60)
            .count();
        assert!(red > 100, "red text lit on the card: {red} pixels");
        let keep = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp");
        let _ = std::fs::create_dir_all(&keep);
        if let Some(image) = image::RgbImage::from_raw(352, 80, frame) {
            let _ = image.save(keep.join("bridge-card-builtin.png"));
        }
    }
    // Built-in records become confirmed once the card plays the built-in loop.
    wait_for("a confirmed built-in record", 30_000, || {
        records(&server).iter().any(|r| {
            r.material_id.starts_with("builtin:") && r.bridge.as_ref().is_some_and(|b| b.confirmed)
        })
    })
    .await;
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_follows_the_rotations_night_dimming_without_a_second_upload() {
    let port = start_broker();
    let http_state: Shared = Arc::default();
    let http = start_http(http_state.clone()).await;
    let blue = png(BLUE);
    let m = media_ref(&blue);
    http_state
        .lock()
        .unwrap()
        .media
        .insert(m.sha256.to_hex(), (blue.clone(), Serve::Correct));
    let card = EmulatorServer::spawn(
        Emulator::new(DeviceConfig::door_strip(352, 80)),
        "127.0.0.1:0",
    )
    .unwrap();
    let server = start_server_client(port, true).await;
    // One rotation: full brightness, then a dimmed window (30 %), then an
    // off window, then full again. The windows sit a few seconds ahead of
    // now, whatever the date.
    let mut dimmed = rotation(1, screen(), &[&blue], 2_000);
    let start = dimmed.issued_at.plus_ms(1_000);
    let (dim_from, off_from, day_from) = (
        start.plus_ms(6_000),
        start.plus_ms(14_000),
        start.plus_ms(19_000),
    );
    dimmed.brightness = vec![
        BrightnessWindow {
            from: dim_from,
            until: off_from,
            percent: 30,
        },
        BrightnessWindow {
            from: off_from,
            until: day_from,
            percent: 0,
        },
    ];
    server
        .publish(TopicKind::Rotation, v1::seal(&dimmed, &server_key()))
        .await;

    let dir = tempfile::tempdir().unwrap();
    enroll(dir.path(), port, &http);
    let mut config = config(dir.path());
    config.display.sink = SinkKind::Bridge;
    config.display.bridge.address = card.addr.to_string();
    config.display.bridge.timeout_seconds = 2;
    config.display.bridge.check_interval_seconds = 1;
    config.display.bridge.retry_initial_ms = 100;
    config.display.bridge.retry_max_ms = 400;
    let agent = start_agent(config);

    let loop_v1 = "branch-1-door-v1-b0";
    wait_for("the card confirms loop v1", 15_000, || {
        server
            .latest_state()
            .and_then(|s| s.bridge)
            .is_some_and(|b| b.confirmed && b.uploaded_loop.as_deref() == Some(loop_v1))
    })
    .await;
    let card_percent = || card.card.lock().unwrap().luminance().percent_at(0);
    let uploads = || card.card.lock().unwrap().counters().programs_added;
    // (The built-in warnings may have gone up first, before the rotation.)
    let uploaded = uploads();

    // In the window the card runs at 30 %, and the state shows it.
    wait_for("the card dimmed to 30 %", 20_000, || {
        card_percent() == Some(30)
    })
    .await;
    assert!(wall_now() >= dim_from, "not dimmed before the window");
    wait_for("the state shows the card at 30 %", 5_000, || {
        server
            .latest_state()
            .and_then(|s| s.bridge)
            .is_some_and(|b| {
                b.brightness_mode.as_deref() == Some("default") && b.brightness_percent == Some(30)
            })
    })
    .await;

    // Off hours: a card cannot be switched off through the bridge; it runs
    // at its lowest level and the state says why.
    wait_for("the card at its lowest level", 10_000, || {
        card_percent() == Some(1)
    })
    .await;
    wait_for(
        "the state says the card cannot be switched off",
        5_000,
        || {
            server
                .latest_state()
                .and_then(|s| s.bridge)
                .is_some_and(|b| {
                    b.brightness_percent == Some(1)
                        && b.last_error
                            .as_deref()
                            .is_some_and(|e| e.contains("无法通过桥接关屏"))
                })
        },
    )
    .await;

    // After the windows: full brightness again, the note gone.
    wait_for("the card back at 100 %", 10_000, || {
        card_percent() == Some(100)
    })
    .await;
    assert!(
        wall_now() >= day_from,
        "not brightened before the window ended"
    );
    wait_for("the state shows 100 % and no note", 5_000, || {
        server
            .latest_state()
            .and_then(|s| s.bridge)
            .is_some_and(|b| b.brightness_percent == Some(100) && b.last_error.is_none())
    })
    .await;

    // Someone turns the card down in HDPlayer: the next check puts it back.
    {
        let mut card = card.card.lock().unwrap();
        let mut by_hand = card.luminance().clone();
        by_hand.default_percent = 55;
        card.set_luminance_by_hand(by_hand);
    }
    wait_for("the agent restores the card's brightness", 10_000, || {
        card_percent() == Some(100)
    })
    .await;

    // All of it without a second upload, and the loop confirmed throughout.
    assert_eq!(
        uploads(),
        uploaded,
        "brightness changes never re-upload the program"
    );
    let states = server.seen.lock().unwrap().states.clone();
    let bridged: Vec<_> = states.iter().filter_map(|s| s.bridge.as_ref()).collect();
    let first = bridged
        .iter()
        .position(|b| b.confirmed && b.uploaded_loop.as_deref() == Some(loop_v1))
        .expect("a state confirming loop v1");
    assert!(
        bridged[first..].iter().all(|b| b.confirmed),
        "confirmation never dropped: {:?}",
        bridged[first..]
            .iter()
            .map(|b| (b.confirmed, b.brightness_percent))
            .collect::<Vec<_>>()
    );
    assert!(
        records(&server)
            .iter()
            .any(|r| r.bridge.as_ref().is_some_and(|b| b.confirmed)
                && r.started_at >= dim_from
                && r.started_at < off_from),
        "records played in the dimmed window are confirmed"
    );
    agent.stop().await;
}
