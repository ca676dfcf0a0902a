//! The brightness schedule on the glass: the real player and screen, driven
//! as the driver drives them, over a signed rotation whose brightness
//! windows dim the night and switch the panel off in the small hours. The
//! frames are compared pixel by pixel, and written as PNGs (day, night,
//! off) under the test's temp dir for a person to look at.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use image::RgbImage;
use ledcast_agent::display::{encode_png, render, Display, Screen};
use ledcast_agent::player::{Action, Input, Player, PlayerConfig, RotationSource};
use ledcast_protocol::v1::{
    seal, Block, BootId, BrightnessWindow, MediaRef, PlayRecord, Rotation, ScreenId, Sha256, Slot,
    SlotKind, Timestamp, TrustedKey,
};
use sha2::Digest;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// 2026-11-30 10:00 in Shanghai (UTC+8), the suite's pinned instant.
const T0: i64 = 1_795_996_800_000 + 2 * HOUR;

/// Shanghai local time on 2026-11-30 (hours past that midnight) as an instant.
fn local(hours: i64, minutes: i64) -> i64 {
    T0 - 10 * HOUR + hours * HOUR + minutes * MINUTE
}

/// Keeps every frame the screen gives the sink.
struct Capture(Arc<Mutex<Vec<RgbImage>>>);

impl Display for Capture {
    fn show(&mut self, frame: &RgbImage) -> std::io::Result<()> {
        self.0.lock().unwrap().push(frame.clone());
        Ok(())
    }
}

struct Rig {
    player: Player,
    screen: Screen,
    poster: Vec<u8>,
    records: Vec<PlayRecord>,
    ends: Vec<(u64, Timestamp)>,
}

impl Rig {
    /// Carries out the player's actions as the driver does.
    fn drain(&mut self, now: Timestamp) {
        while let Some(action) = self.player.poll_action() {
            match action {
                Action::Show(showing) => self
                    .screen
                    .show(&showing, Some(&self.poster), None, now)
                    .unwrap(),
                Action::Brightness { percent } => self.screen.set_brightness(percent).unwrap(),
                Action::JournalStart(record) => self.records.push(record),
                Action::JournalEnd { seq, ended_at, .. } => self.ends.push((seq, ended_at)),
                _ => {}
            }
        }
    }

    /// Runs the player's timers up to (not including) `until`.
    fn run_until(&mut self, until: i64) {
        while let Some(t) = self.player.poll_timeout() {
            if t.0 >= until {
                break;
            }
            self.player.handle(t, Input::Timer);
            self.drain(t);
        }
    }

    fn frame(&self) -> RgbImage {
        self.screen.last_frame().expect("a frame").as_ref().clone()
    }
}

#[test]
fn night_frames_are_dimmed_to_30_percent_and_off_hours_are_black_and_unrecorded() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let screen_id = ScreenId::new("door-1").unwrap();
    // A poster as the media pipeline makes them for a mono door strip.
    let poster_frame = render::text_frame("谨防电信诈骗", 352, 80, render::RED, 0);
    let poster = encode_png(&poster_frame).unwrap();
    let media = Sha256(sha2::Sha256::digest(&poster).into());
    // Night 20:00–07:00 at 30 %, off 01:00–05:00: as the compiler writes
    // it for Asia/Shanghai (compiler/tests/language.rs checks that part).
    let window = |from: i64, until: i64, percent| BrightnessWindow {
        from: Timestamp(from),
        until: Timestamp(until),
        percent,
    };
    let rotation = Rotation {
        screen_id: screen_id.clone(),
        version: 1,
        issued_at: Timestamp(T0),
        expires_at: Timestamp(T0 + 72 * HOUR),
        timezone: "Asia/Shanghai".into(),
        blocks: vec![Block {
            from: Timestamp(T0),
            until: Timestamp(T0 + 48 * HOUR),
            priority: 0,
            slots: vec![Slot {
                media,
                duration_ms: (10 * MINUTE) as u64,
                kind: SlotKind::Still,
                material_id: "warn-telecom".into(),
                is_warning: true,
            }],
        }],
        fallback: vec![],
        media: vec![MediaRef {
            sha256: media,
            size_bytes: poster.len() as u64,
            mime: "image/png".into(),
            width: 352,
            height: 80,
        }],
        brightness: vec![
            window(local(20, 0), local(25, 0), 30),
            window(local(25, 0), local(29, 0), 0),
            window(local(29, 0), local(31, 0), 30),
        ],
    };
    let frames = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig {
        player: Player::new(PlayerConfig {
            screen_id: screen_id.clone(),
            boot_id: BootId::new("boot-1").unwrap(),
            server_key: TrustedKey::new(key.verifying_key()),
            highest_version_seen: None,
            video_supported: false,
            switch_window_ms: HOUR,
            builtin_slot_ms: 10_000,
            cached: HashSet::from([media]),
        }),
        screen: Screen::new(Box::new(Capture(frames.clone())), 352, 80, 10),
        poster,
        records: Vec::new(),
        ends: Vec::new(),
    };
    rig.player.handle(
        Timestamp(T0),
        Input::Rotation {
            envelope: seal(&rotation, &key),
            source: RotationSource::Mqtt,
        },
    );
    rig.drain(Timestamp(T0));
    let day = rig.frame();
    assert_eq!(day, poster_frame, "by day the poster is drawn as it is");

    rig.run_until(local(21, 0));
    let night = rig.frame();
    assert_eq!(rig.screen.brightness(), 30);
    let mut lit = 0;
    for (d, n) in day.pixels().zip(night.pixels()) {
        for (d, n) in d.0.iter().zip(n.0.iter()) {
            let expected = (f64::from(*d) * 0.3).round();
            assert!(
                (f64::from(*n) - expected).abs() <= 1.0,
                "day {d} → night {n}, expected ≈ {expected}"
            );
            if *d >= 200 {
                lit += 1;
                let ratio = f64::from(*n) / f64::from(*d);
                assert!((0.29..=0.31).contains(&ratio), "{n}/{d}");
            }
        }
    }
    assert!(lit > 500, "the poster lights {lit} channels");
    assert_eq!(
        night.pixels().map(|p| p.0[0]).max(),
        Some(77),
        "full red (255) at 30 %"
    );

    rig.run_until(local(26, 0));
    let off = rig.frame();
    assert!(
        off.pixels().all(|p| p.0 == [0, 0, 0]),
        "black in the off window"
    );
    assert!(rig.player.showing().is_none());
    assert_eq!(rig.player.status().now_playing, None);
    let off_from = Timestamp(local(25, 0));
    let off_until = Timestamp(local(29, 0));
    assert!(
        rig.ends.iter().any(|(_, ended)| *ended == off_from),
        "the record on screen ends as the panel goes off"
    );
    assert!(
        rig.records
            .iter()
            .all(|r| r.started_at < off_from || r.started_at >= off_until),
        "no record starts while the panel is off"
    );

    rig.run_until(local(30, 0));
    assert_eq!(
        rig.frame(),
        night,
        "dimmed again after the off hours, same pixels"
    );
    assert!(rig
        .records
        .iter()
        .any(|r| r.started_at == off_until && r.material_id == "warn-telecom"));
    rig.run_until(local(32, 0));
    assert_eq!(rig.frame(), day, "full brightness from 07:00");

    // For a person to look at: the same poster by day, at night, and off.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("brightness");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, frame) in [("day", &day), ("night", &night), ("off", &off)] {
        std::fs::write(dir.join(format!("{name}.png")), encode_png(frame).unwrap()).unwrap();
    }
    assert!(frames.lock().unwrap().len() >= 4);
}
