//! The client session against the emulated card: a whole upload and its
//! readback, resumption, and every fault the card can throw (offline, NAK,
//! error answer, silence, an upload cut halfway, a reboot that comes back
//! with the old program, a panel of the wrong size).

use ledcast_bridge::huidu::emulator::{decode_png_rgb, DeviceConfig, Emulator, Fault};
use ledcast_bridge::huidu::packet::cmd;
use ledcast_bridge::huidu::program::parse_program_guid;
use ledcast_bridge::huidu::sdk::{Luminance, LuminanceMode};
use ledcast_bridge::huidu::session::{Report, Session, SessionError, Task};
use ledcast_bridge::{Brightness, BrightnessEntry, LoopPlan, Motion, PlanFile, PlanItem};

const W: u32 = 352;
const H: u32 = 80;

/// A PNG of `w`×`h` with the left `lit_columns` columns red.
fn png(w: u32, h: u32, lit_columns: u32) -> Vec<u8> {
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    for y in 0..h {
        for x in 0..lit_columns.min(w) {
            rgb[((y * w + x) * 3) as usize] = 255;
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&rgb).unwrap();
    writer.finish().unwrap();
    out
}

fn plan(loop_id: &str, lit: u32) -> LoopPlan {
    let a = PlanFile::new(&format!("aa{lit:014}"), png(W, H, lit));
    // A strip six panels wide, half of it lit (a scrolling warning).
    let b = PlanFile::new(&format!("bb{lit:014}"), png(W * 6, H, W * 3));
    LoopPlan {
        loop_id: loop_id.to_owned(),
        width: W,
        height: H,
        items: vec![
            PlanItem {
                file_name: a.name.clone(),
                duration_ms: 10_000,
                motion: Motion::Still,
                material_id: "poster".to_owned(),
                is_warning: false,
            },
            PlanItem {
                file_name: b.name.clone(),
                duration_ms: 20_400,
                motion: Motion::ScrollLeft { px_per_second: 32 },
                material_id: "warning".to_owned(),
                is_warning: true,
            },
        ],
        files: vec![a, b],
        brightness: Some(Brightness {
            entries: vec![
                BrightnessEntry {
                    start: "07:00".to_owned(),
                    percent: 80,
                },
                BrightnessEntry {
                    start: "19:30".to_owned(),
                    percent: 30,
                },
            ],
        }),
    }
}

/// Carries bytes between the session and the card until the session ends;
/// silence from the card is a timeout, a close is a closed link.
fn drive(card: &mut Emulator, mut session: Session, now_ms: i64) -> Result<Report, SessionError> {
    if card.connect().is_err() {
        session.handle_closed();
    }
    for _ in 0..100_000 {
        if let Some(outcome) = session.take_outcome() {
            card.disconnect();
            return outcome;
        }
        let mut sent = false;
        let mut closed = false;
        let mut received = Vec::new();
        while let Some(bytes) = session.poll_transmit() {
            sent = true;
            let out = card.receive(now_ms, &bytes);
            received.extend(out.bytes);
            if out.close {
                closed = true;
                break;
            }
        }
        if !received.is_empty() {
            session.handle_received(&received);
        } else if closed {
            session.handle_closed();
        } else if !sent {
            session.handle_timeout();
        }
        if closed && session.outcome().is_none() {
            session.handle_closed();
        }
    }
    panic!("session did not end");
}

fn upload(card: &mut Emulator, plan: &LoopPlan, now_ms: i64) -> Result<Report, SessionError> {
    drive(
        card,
        Session::new(Task::Upload {
            plan: plan.clone(),
            timestamps: (now_ms / 1000) as u64,
            screenshot: true,
        }),
        now_ms,
    )
}

#[test]
fn an_upload_puts_the_loop_on_the_card_and_the_readback_confirms_it() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    let plan = plan("icbc-door-v7-b0", 40);
    let report = upload(&mut card, &plan, 1_000_000).unwrap();
    let upload = report.upload.clone().unwrap();
    assert_eq!(upload.loop_id, "icbc-door-v7-b0");
    assert_eq!((upload.files_sent, upload.files_skipped), (2, 0));
    assert_eq!(
        upload.bytes_sent,
        plan.files.iter().map(|f| f.bytes.len() as u64).sum::<u64>()
    );
    assert_eq!(report.device.model, "HD-WF2");
    // The card plays the first program of the loop right after the upload.
    assert_eq!(report.playing_program.as_deref(), Some("icbc-door-v7-b0-0"));
    assert_eq!(
        parse_program_guid(report.playing_program.as_deref().unwrap()),
        Some(("icbc-door-v7-b0", 0))
    );
    // Programs with the slot durations (rounded to whole seconds).
    let durations: Vec<u64> = card.programs().iter().map(|p| p.duration_ms).collect();
    assert_eq!(durations, vec![10_000, 20_000]);
    assert!(card.programs()[1].scrolls);
    // Files arrived intact.
    for file in &plan.files {
        assert_eq!(card.file(&file.name), Some(file.bytes.as_slice()));
    }
    // The brightness schedule passed through and reads back.
    let luminance = report.luminance.unwrap();
    assert_eq!(luminance.percent_at(12 * 3600), Some(80));
    assert_eq!(luminance.percent_at(22 * 3600), Some(30));
    assert_eq!(
        luminance.percent_at(3 * 3600),
        Some(30),
        "night keeps the evening level"
    );
    // The screenshot is a JPEG of the panel; the card's frame has the poster's
    // 40 lit columns and nothing else.
    let jpeg = report.screenshot_jpeg.unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let frame = card.frame_rgb(1_000_000);
    let lit: Vec<u32> = (0..W)
        .filter(|&x| frame[(40 * W + x) as usize * 3] > 128)
        .collect();
    assert_eq!(lit, (0..40).collect::<Vec<_>>());
    // Ten seconds later the card has moved on to the scroll by itself.
    let later = drive(
        &mut card,
        Session::new(Task::Check {
            screenshot: false,
            brightness: None,
        }),
        1_011_000,
    )
    .unwrap();
    assert_eq!(later.playing_program.as_deref(), Some("icbc-door-v7-b0-1"));
}

#[test]
fn a_check_with_a_brightness_dims_the_card_without_touching_its_program() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    let mut uploaded = plan("icbc-door-v7-b0", 40);
    uploaded.brightness = None;
    upload(&mut card, &uploaded, 1_000_000).unwrap();
    let before = card.counters().clone();
    assert_eq!(card.luminance().percent_at(0), Some(100), "factory level");

    // Night: one level all day, changed at the window's edge.
    let night = Brightness::all_day(30);
    let check = |card: &mut Emulator, brightness: Option<Brightness>, now_ms| {
        drive(
            card,
            Session::new(Task::Check {
                screenshot: false,
                brightness,
            }),
            now_ms,
        )
    };
    let report = check(&mut card, Some(night.clone()), 1_011_000).unwrap();
    assert_eq!(report.upload, None, "a check is not an upload");
    let luminance = report.luminance.unwrap();
    assert_eq!(luminance.mode, LuminanceMode::Default, "one level all day");
    assert_eq!(luminance.percent_at(0), Some(30));
    assert_eq!(luminance.percent_at(23 * 3600), Some(30));
    assert!(luminance.same_policy(&Luminance::for_brightness(&night)));
    assert_eq!(card.luminance().percent_at(12 * 3600), Some(30));
    // The card kept its program and its place in the loop: no file, no
    // AddProgram, the scroll it had moved on to still playing.
    assert_eq!(card.counters().programs_added, before.programs_added);
    assert_eq!(card.counters().file_bytes, before.file_bytes);
    assert_eq!(card.counters().luminance_sets, before.luminance_sets + 1);
    assert_eq!(report.playing_program.as_deref(), Some("icbc-door-v7-b0-1"));

    // Off is not a level a card has: the lowest one, 1 %.
    let off = check(&mut card, Some(Brightness::all_day(0)), 1_012_000).unwrap();
    assert_eq!(off.luminance.unwrap().percent_at(0), Some(1));

    // Day again; a plain check reads back and sets nothing.
    check(&mut card, Some(Brightness::all_day(100)), 1_013_000).unwrap();
    let sets = card.counters().luminance_sets;
    let plain = check(&mut card, None, 1_014_000).unwrap();
    assert_eq!(plain.luminance.as_ref().unwrap().percent_at(0), Some(100));
    assert!(!plain
        .luminance
        .as_ref()
        .is_some_and(|l| l.same_policy(&Luminance::for_brightness(&night))));
    assert_eq!(card.counters().luminance_sets, sets);

    // A card that refuses the level says so, naming the method.
    card.add_fault(Fault::Nak {
        method: "SetLuminancePloy".to_owned(),
        result: "kInvalidParam".to_owned(),
    });
    let refused = check(&mut card, Some(night), 1_015_000).unwrap_err();
    assert!(
        matches!(&refused, SessionError::Nak { method, .. } if method == "SetLuminancePloy"),
        "{refused:?}"
    );
    assert_eq!(card.luminance().percent_at(0), Some(100));
    assert_eq!(card.counters().programs_added, before.programs_added);
}

#[test]
fn files_the_card_holds_are_not_sent_again() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    let plan_a = plan("s-v1-b0", 40);
    upload(&mut card, &plan_a, 0).unwrap();
    let mut plan_b = plan_a.clone();
    plan_b.loop_id = "s-v2-b0".to_owned();
    let report = upload(&mut card, &plan_b, 5_000).unwrap();
    let upload = report.upload.unwrap();
    assert_eq!(
        (upload.files_sent, upload.files_skipped, upload.bytes_sent),
        (0, 2, 0)
    );
    assert_eq!(report.playing_program.as_deref(), Some("s-v2-b0-0"));
}

#[test]
fn an_offline_card_is_a_closed_link() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    card.add_fault(Fault::Offline);
    let error = upload(&mut card, &plan("s-v1-b0", 1), 0).unwrap_err();
    assert_eq!(
        error,
        SessionError::Closed {
            step: "version negotiation"
        }
    );
    assert!(error.to_string().contains("连接"), "{error}");
    assert!(card.programs().is_empty());
}

#[test]
fn a_nak_on_add_program_fails_the_upload_and_leaves_the_old_program() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    upload(&mut card, &plan("s-v1-b0", 10), 0).unwrap();
    card.add_fault(Fault::Nak {
        method: "AddProgram".to_owned(),
        result: "kNotSpaceToSave".to_owned(),
    });
    let error = upload(&mut card, &plan("s-v2-b0", 20), 1_000).unwrap_err();
    assert_eq!(
        error,
        SessionError::Nak {
            method: "AddProgram".to_owned(),
            result: "kNotSpaceToSave".to_owned()
        }
    );
    assert_eq!(card.programs()[0].guid, "s-v1-b0-0");
}

#[test]
fn an_error_answer_to_a_file_is_a_refusal_with_the_vendor_name() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    card.add_fault(Fault::ErrorAnswer {
        cmd: cmd::FILE_START_ASK,
        code: 9,
    });
    let error = upload(&mut card, &plan("s-v1-b0", 10), 0).unwrap_err();
    assert_eq!(
        error,
        SessionError::Refused {
            step: "file start",
            code: 9,
            name: "kNotSpaceToSave"
        }
    );
}

#[test]
fn a_silent_card_times_out() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    card.add_fault(Fault::Silent);
    let error = upload(&mut card, &plan("s-v1-b0", 10), 0).unwrap_err();
    assert_eq!(
        error,
        SessionError::Timeout {
            step: "version negotiation"
        }
    );
}

#[test]
fn an_upload_cut_halfway_resumes_where_the_card_stopped() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    let plan = plan("s-v1-b0", 10);
    let total: u64 = plan.files.iter().map(|f| f.bytes.len() as u64).sum();
    let cut_at = plan.files[0].bytes.len() as u64 / 2;
    card.add_fault(Fault::CutUpload {
        after_bytes: cut_at,
    });
    let error = upload(&mut card, &plan, 0).unwrap_err();
    assert_eq!(error, SessionError::Closed { step: "file end" });
    assert!(card.programs().is_empty(), "no program from a cut upload");
    assert_eq!(card.file_bytes_held(&plan.files[0].name), cut_at);
    assert_eq!(
        card.file(&plan.files[0].name),
        None,
        "half a file is not a file"
    );
    // The next attempt sends only what is missing.
    let report = upload(&mut card, &plan, 2_000).unwrap();
    assert_eq!(report.upload.unwrap().bytes_sent, total - cut_at);
    assert_eq!(
        card.file(&plan.files[0].name),
        Some(plan.files[0].bytes.as_slice())
    );
    assert_eq!(report.playing_program.as_deref(), Some("s-v1-b0-0"));
}

#[test]
fn a_reboot_that_loses_the_upload_shows_in_the_readback() {
    let mut card = Emulator::new(DeviceConfig::door_strip(W, H));
    upload(&mut card, &plan("s-v1-b0", 10), 0).unwrap();
    card.add_fault(Fault::ForgetsOnReboot);
    let report = upload(&mut card, &plan("s-v2-b0", 20), 1_000).unwrap();
    assert_eq!(report.playing_program.as_deref(), Some("s-v2-b0-0"));
    card.reboot(2_000);
    let check = drive(
        &mut card,
        Session::new(Task::Check {
            screenshot: true,
            brightness: None,
        }),
        2_500,
    )
    .unwrap();
    assert_eq!(
        check.playing_program.as_deref(),
        Some("s-v1-b0-0"),
        "the card came back with the old program"
    );
    // Its screenshot is the old poster (10 lit columns), not the new one (20).
    let frame = card.frame_rgb(2_500);
    let lit = (0..W)
        .filter(|&x| frame[(40 * W + x) as usize * 3] > 128)
        .count();
    assert_eq!(lit, 10);
    assert!(decode_png_rgb(&png(4, 4, 1)).is_some());
}

#[test]
fn a_panel_of_another_size_is_refused_before_anything_is_sent() {
    let mut card = Emulator::new(DeviceConfig::door_strip(320, 32));
    let error = upload(&mut card, &plan("s-v1-b0", 10), 0).unwrap_err();
    assert!(matches!(
        error,
        SessionError::SizeMismatch {
            card_width: 320,
            card_height: 32,
            ..
        }
    ));
    assert_eq!(card.counters().file_bytes, 0);
}
