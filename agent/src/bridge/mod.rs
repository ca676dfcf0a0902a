//! The bridge sink: the agent uploads the loop in effect to an LED controller
//! card the bank already owns, which then plays it by itself, and reads back
//! what the card reports (program playing, brightness, errors, screenshot).
//!
//! [`Bridge`] is the driver's side (which loop the card should have, whether
//! it confirms it, retries with backoff); one worker thread owns the TCP
//! connection and runs a vendor [`Session`] per job (connect, talk, close).
//! [`plan`] turns a rotation's loop into a vendor-neutral plan;
//! [`emulator`] serves an emulated card on a local port for tests and the
//! demo. The protocol itself is `ledcast-bridge`.

pub mod emulator;
pub mod plan;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use ledcast_bridge::huidu::program::parse_program_guid;
use ledcast_bridge::huidu::sdk::{Luminance, LuminanceMode};
use ledcast_bridge::huidu::{Report, Session, SessionError, Task};
use ledcast_bridge::{Brightness, LoopPlan};
use ledcast_protocol::v1::{BridgeDevice, BridgeState, Timestamp};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::backoff::{backoff, random_sample, BackoffPolicy};
use crate::config::BridgeConfig;

/// What the worker did.
#[derive(Debug)]
pub struct Outcome {
    /// The job.
    pub job: JobKind,
    /// The brightness the job put on the card (before its readback).
    pub brightness: Option<Brightness>,
    /// Its result.
    pub result: Result<Report, SessionError>,
}

/// A job's kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// An upload of this loop.
    Upload(String),
    /// A readback.
    Check,
}

/// A job for the worker.
#[derive(Debug)]
enum Job {
    Upload {
        plan: LoopPlan,
        timestamps: u64,
        screenshot: bool,
    },
    Check {
        screenshot: bool,
        brightness: Option<Brightness>,
    },
}

/// The agent's built-in warnings as a loop for a `width`×`height` card, each
/// `slot_ms` long (what plays while no signed rotation covers the instant,
/// so the card never keeps showing something unsigned, e.g. the bank's own
/// old program, before the first rotation arrives).
pub fn builtin_plan(
    screen_id: &str,
    width: u32,
    height: u32,
    slot_ms: u64,
) -> io::Result<LoopPlan> {
    use crate::display::{encode_png, render};
    use crate::player::builtin;
    use ledcast_bridge::{Motion, PlanFile, PlanItem};
    use sha2::Digest;
    let mut items = Vec::new();
    let mut files: Vec<PlanFile> = Vec::new();
    for (index, text) in builtin::MESSAGES.iter().enumerate() {
        let (image, motion) = if render::text_scrolls(text, width, height) {
            (
                render::text_strip(text, height, render::RED),
                Motion::ScrollLeft {
                    px_per_second: render::builtin_scroll_px_per_second(text, height),
                },
            )
        } else {
            (
                render::text_frame(text, width, height, render::RED, 0),
                Motion::Still,
            )
        };
        let png = encode_png(&image)?;
        let hex = hex::encode(sha2::Sha256::digest(&png));
        let file = PlanFile::new(&hex, png);
        items.push(PlanItem {
            file_name: file.name.clone(),
            duration_ms: slot_ms,
            motion,
            material_id: builtin::material_id(index),
            is_warning: true,
        });
        files.push(file);
    }
    Ok(LoopPlan {
        loop_id: builtin_loop_id(screen_id),
        width,
        height,
        items,
        files,
        // The bridge adds the brightness it wants on the card.
        brightness: None,
    })
}

/// The loop id of the built-in warnings.
pub fn builtin_loop_id(screen_id: &str) -> String {
    format!("{screen_id}-builtin")
}

/// Runs one session over TCP to `address`: connect, send what the session
/// says, feed back what arrives, until it ends. Each read waits `timeout`.
pub fn run_session(
    address: &str,
    timeout: Duration,
    mut session: Session,
) -> Result<Report, SessionError> {
    let stream = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .and_then(|addr| TcpStream::connect_timeout(&addr, timeout).ok());
    let Some(mut stream) = stream else {
        session.handle_closed();
        return session
            .take_outcome()
            .unwrap_or(Err(SessionError::Closed { step: "connect" }));
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if let Some(outcome) = session.take_outcome() {
            return outcome;
        }
        let mut write_failed = false;
        while let Some(bytes) = session.poll_transmit() {
            if stream.write_all(&bytes).is_err() {
                write_failed = true;
                break;
            }
        }
        if write_failed {
            session.handle_closed();
            continue;
        }
        if session.outcome().is_some() {
            continue;
        }
        match stream.read(&mut buffer) {
            Ok(0) => session.handle_closed(),
            Ok(n) => session.handle_received(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                session.handle_timeout()
            }
            Err(_) => session.handle_closed(),
        }
    }
}

/// What the state says while the rotation wants the panel off.
const OFF_NOTE: &str = "the rotation switches the panel off now, but a controller card cannot be switched off through the bridge: it runs at its lowest brightness, 1 % (播放表要求此时关屏，但控制卡无法通过桥接关屏，已调到最低亮度 1%)";

/// The driver's side of the bridge.
pub struct Bridge {
    /// Settings.
    config: BridgeConfig,
    /// Jobs to the worker.
    jobs: mpsc::Sender<Job>,
    /// A job is running.
    busy: bool,
    /// The loop the card should play, and its plan.
    desired: Option<LoopPlan>,
    /// The loop the card acknowledged last.
    uploaded: Option<String>,
    /// What the state report shows.
    state: BridgeState,
    /// Consecutive failures (backoff).
    failures: u32,
    /// Next upload or check not before this.
    next_try_at: Instant,
    /// Next readback.
    next_check_at: Instant,
    /// A screenshot was asked for.
    want_screenshot: bool,
    /// The brightness the card should have ([`plan::card_brightness`]):
    /// checked against every readback; `None` leaves the card's own alone.
    desired_brightness: Option<Brightness>,
    /// A brightness to put on the card with the next job (a change, or a
    /// readback that differs); cleared once a job set it.
    brightness_due: Option<Brightness>,
    /// The rotation asks for the panel off, which the card cannot do: it
    /// runs at 1 % and the state says so.
    off_requested: bool,
    /// Bumped whenever confirmation is lost (records spanning it are unconfirmed).
    epoch: u64,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("address", &self.config.address)
            .field("uploaded", &self.uploaded)
            .field("confirmed", &self.state.confirmed)
            .finish()
    }
}

impl Bridge {
    /// Checks `[display.bridge]`: every problem at once, in words an IT
    /// person can act on (English and Chinese).
    pub fn validate(config: &BridgeConfig) -> Result<(), String> {
        let mut problems = Vec::new();
        if config.address.trim().is_empty() {
            problems.push("[display.bridge] address is empty: set the controller card's \"HOST:PORT\", e.g. \"192.168.10.20:10001\" (请填写控制卡地址和端口)".to_owned());
        } else if config
            .address
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            problems.push(format!("[display.bridge] address {:?} needs a port, e.g. \"192.168.10.20:10001\" (地址须含端口)", config.address));
        }
        for (index, step) in config.brightness.iter().enumerate() {
            if ledcast_bridge::huidu::sdk::parse_hms(&step.start).is_none() {
                problems.push(format!("[[display.bridge.brightness]] #{}: start {:?} is not a time of day HH:MM (亮度时间应为 HH:MM)", index + 1, step.start));
            }
            if !(1..=100).contains(&step.percent) {
                problems.push(format!(
                    "[[display.bridge.brightness]] #{}: percent {} is not 1–100 (亮度应为 1–100)",
                    index + 1,
                    step.percent
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Starts the worker; `done` receives each job's outcome.
    pub fn start(
        config: &BridgeConfig,
        done: impl Fn(Outcome) + Send + 'static,
    ) -> io::Result<Bridge> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let address = config.address.clone();
        let timeout = Duration::from_secs(config.timeout_seconds.max(1));
        std::thread::Builder::new()
            .name("bridge".to_owned())
            .spawn(move || {
                while let Ok(job) = inbox.recv() {
                    let (kind, task) = match job {
                        Job::Upload {
                            plan,
                            timestamps,
                            screenshot,
                        } => (
                            JobKind::Upload(plan.loop_id.clone()),
                            Task::Upload {
                                plan,
                                timestamps,
                                screenshot,
                            },
                        ),
                        Job::Check {
                            screenshot,
                            brightness,
                        } => (
                            JobKind::Check,
                            Task::Check {
                                screenshot,
                                brightness,
                            },
                        ),
                    };
                    let brightness = match &task {
                        Task::Upload { plan, .. } => plan.brightness.clone(),
                        Task::Check { brightness, .. } => brightness.clone(),
                    };
                    let result = run_session(&address, timeout, Session::new(task));
                    done(Outcome {
                        job: kind,
                        brightness,
                        result,
                    });
                }
            })?;
        let now = Instant::now();
        Ok(Bridge {
            config: config.clone(),
            jobs,
            busy: false,
            desired: None,
            uploaded: None,
            state: BridgeState {
                vendor: config.vendor.as_str().to_owned(),
                address: config.address.clone(),
                ..BridgeState::default()
            },
            failures: 0,
            next_try_at: now,
            next_check_at: now,
            want_screenshot: false,
            desired_brightness: None,
            brightness_due: None,
            off_requested: false,
            epoch: 0,
        })
    }

    /// The vendor name for records.
    pub fn vendor(&self) -> &str {
        &self.state.vendor
    }

    /// The loop id the card should play (the one records describe).
    pub fn desired_loop(&self) -> Option<&str> {
        self.desired.as_ref().map(|p| p.loop_id.as_str())
    }

    /// Whether the card confirms it plays `loop_id` now.
    pub fn confirms(&self, loop_id: &str) -> bool {
        self.state.confirmed && self.uploaded.as_deref() == Some(loop_id)
    }

    /// Changes whenever confirmation is lost.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The state report's bridge section.
    pub fn state(&self) -> BridgeState {
        self.state.clone()
    }

    /// The card should play `plan` (a new loop: uploaded as soon as possible).
    pub fn want(&mut self, plan: LoopPlan) {
        if self
            .desired
            .as_ref()
            .is_some_and(|d| d.loop_id == plan.loop_id)
        {
            return;
        }
        info!(loop_id = %plan.loop_id, items = plan.items.len(), "bridge: new loop for the controller card");
        self.desired = Some(plan);
        self.set_confirmed(false);
        self.failures = 0;
        self.next_try_at = Instant::now();
    }

    /// The card should have this brightness ([`plan::card_brightness`]).
    /// A change goes to the card with the next job, without uploading the
    /// program again; returns whether anything changed. When the agent
    /// stops steering (a rotation without windows, no configured schedule)
    /// the card is put back to full brightness once, then left alone.
    pub fn want_brightness(&mut self, wanted: plan::CardBrightness) -> bool {
        if wanted.brightness == self.desired_brightness
            && wanted.off_requested == self.off_requested
        {
            return false;
        }
        if wanted.off_requested && !self.off_requested {
            warn!(address = %self.config.address, "bridge: the rotation switches the panel off, but a controller card cannot be switched off through the bridge; it runs at its lowest level, 1 %");
        }
        self.off_requested = wanted.off_requested;
        match &wanted.brightness {
            Some(b) => {
                match b.all_day_percent() {
                    Some(percent) => {
                        info!(
                            percent,
                            "bridge: controller card brightness follows the rotation"
                        )
                    }
                    None => {
                        info!(schedule = ?b.entries, "bridge: controller card brightness schedule")
                    }
                }
                self.brightness_due = Some(b.clone());
            }
            None => {
                info!("bridge: no brightness asked for; the controller card goes back to full brightness and is left alone");
                self.brightness_due = self
                    .desired_brightness
                    .is_some()
                    .then(|| Brightness::all_day(100));
            }
        }
        self.desired_brightness = wanted.brightness;
        true
    }

    /// Asks for the card's screenshot with the next readback (soon).
    pub fn request_screenshot(&mut self) {
        self.want_screenshot = true;
        self.next_check_at = Instant::now();
    }

    fn set_confirmed(&mut self, confirmed: bool) {
        if self.state.confirmed && !confirmed {
            self.epoch += 1;
        }
        self.state.confirmed = confirmed;
    }

    /// Starts the next job when one is due. `now` is the wall clock (for the
    /// card's `timeStamps`).
    pub fn poll(&mut self, now: Timestamp) {
        let instant = Instant::now();
        if self.busy || instant < self.next_try_at {
            return;
        }
        let needs_upload = self
            .desired
            .as_ref()
            .is_some_and(|d| self.uploaded.as_deref() != Some(d.loop_id.as_str()));
        let job = if needs_upload {
            let Some(mut plan) = self.desired.clone() else {
                return;
            };
            plan.brightness = self
                .brightness_due
                .clone()
                .or_else(|| self.desired_brightness.clone());
            Job::Upload {
                plan,
                timestamps: (now.as_millis() / 1000).max(1) as u64,
                screenshot: self.want_screenshot,
            }
        } else if (self.brightness_due.is_some() || instant >= self.next_check_at)
            && !self.config.address.is_empty()
        {
            Job::Check {
                screenshot: self.want_screenshot,
                brightness: self.brightness_due.clone(),
            }
        } else {
            return;
        };
        if self.jobs.send(job).is_ok() {
            self.busy = true;
        }
    }

    /// When [`Bridge::poll`] has something to do next.
    pub fn next_wake(&self) -> Option<Instant> {
        if self.busy {
            return None;
        }
        let needs_upload = self
            .desired
            .as_ref()
            .is_some_and(|d| self.uploaded.as_deref() != Some(d.loop_id.as_str()));
        Some(if needs_upload || self.brightness_due.is_some() {
            self.next_try_at
        } else {
            self.next_check_at.max(self.next_try_at)
        })
    }

    /// A job ended. Returns the card's screenshot (JPEG) when one came.
    pub fn on_outcome(&mut self, outcome: Outcome, now: Timestamp) -> Option<Vec<u8>> {
        self.busy = false;
        let instant = Instant::now();
        let check_every = Duration::from_secs(self.config.check_interval_seconds.max(1));
        match outcome.result {
            Ok(report) => {
                let was_reachable = self.state.reachable;
                self.failures = 0;
                self.state.reachable = true;
                self.state.checked_at = Some(now);
                self.state.last_error = None;
                self.state.device = Some(BridgeDevice {
                    id: report.device.id.clone(),
                    model: report.device.model.clone(),
                    firmware: report.device.app_version.clone(),
                    width: report.device.width,
                    height: report.device.height,
                });
                if let JobKind::Upload(loop_id) = &outcome.job {
                    if report.upload.is_some() {
                        self.uploaded = Some(loop_id.clone());
                        self.state.uploaded_loop = Some(loop_id.clone());
                        self.state.uploaded_at = Some(now);
                    }
                }
                self.state.playing_program = report.playing_program.clone();
                let playing_loop = report
                    .playing_program
                    .as_deref()
                    .and_then(parse_program_guid)
                    .map(|(l, _)| l.to_owned());
                let desired = self.desired_loop().map(str::to_owned);
                let confirmed =
                    desired.is_some() && playing_loop == desired && self.uploaded == desired;
                if !confirmed && self.uploaded.is_some() && playing_loop != self.uploaded {
                    // The card plays something else than it acknowledged (a
                    // reboot that lost the upload, or someone with HDPlayer):
                    // upload again.
                    warn!(playing = ?report.playing_program, expected = ?self.uploaded, "bridge: the controller card does not play the uploaded loop; uploading again");
                    self.state.last_error = Some(format!(
                        "the controller card plays {} instead of the uploaded loop {}; uploading again (控制卡播放的不是上传的节目，正在重新上传)",
                        report.playing_program.as_deref().unwrap_or("nothing"),
                        self.uploaded.as_deref().unwrap_or("?")
                    ));
                    self.uploaded = None;
                }
                self.set_confirmed(confirmed);
                if outcome.brightness.is_some() && outcome.brightness == self.brightness_due {
                    self.brightness_due = None;
                }
                let mut next_try_at = instant;
                if let (Some(desired), Some(luminance)) =
                    (&self.desired_brightness, &report.luminance)
                {
                    if !luminance.same_policy(&Luminance::for_brightness(desired)) {
                        self.brightness_due = Some(desired.clone());
                        if outcome.brightness.is_some() {
                            // Set and read back different: try again at the
                            // next check, not in a loop.
                            warn!(reported = ?luminance, "bridge: the controller card did not keep the brightness it was given");
                            next_try_at = instant + check_every;
                        } else {
                            info!(reported = ?luminance, "bridge: the controller card's brightness differs (a reset, or a change in HDPlayer); setting it again");
                        }
                    }
                }
                if let Some(luminance) = &report.luminance {
                    self.state.brightness_mode = Some(luminance.mode.as_str().to_owned());
                    self.state.brightness_percent = (luminance.mode == LuminanceMode::Default)
                        .then_some(luminance.default_percent);
                    self.state.brightness_schedule = (luminance.mode == LuminanceMode::Ploys
                        && !luminance.items.is_empty())
                    .then(|| {
                        luminance
                            .items
                            .iter()
                            .filter(|i| i.enable)
                            .map(|i| format!("{} {}%", i.start, i.percent))
                            .collect::<Vec<_>>()
                            .join(", ")
                    });
                }
                if !was_reachable {
                    info!(address = %self.config.address, "bridge: controller card reachable");
                }
                if self.off_requested && self.state.last_error.is_none() {
                    self.state.last_error = Some(OFF_NOTE.to_owned());
                }
                self.next_check_at = instant + check_every;
                self.next_try_at = next_try_at;
                let screenshot = report.screenshot_jpeg;
                if screenshot.is_some() {
                    self.want_screenshot = false;
                    self.state.screenshot_at = Some(now);
                }
                screenshot
            }
            Err(error) => {
                let policy = BackoffPolicy {
                    initial: Duration::from_millis(self.config.retry_initial_ms.max(100)),
                    max: Duration::from_millis(self.config.retry_max_ms.max(100)),
                };
                let delay = backoff(policy, self.failures, random_sample());
                if self.failures == 0 {
                    warn!(address = %self.config.address, %error, retry_in_ms = delay.as_millis() as u64, "bridge: controller card failed");
                }
                self.failures = self.failures.saturating_add(1);
                self.state.reachable = !matches!(
                    error,
                    SessionError::Closed { .. } | SessionError::Timeout { .. }
                );
                self.state.last_error = Some(error.to_string());
                // What the card plays cannot be confirmed now.
                self.set_confirmed(false);
                self.next_try_at = instant + delay;
                self.next_check_at = self.next_try_at;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrightnessStep;

    #[test]
    fn a_brightness_change_is_due_once_and_stopping_steering_restores_full_once() {
        let config = BridgeConfig {
            address: "127.0.0.1:9".into(),
            ..BridgeConfig::default()
        };
        let mut bridge = Bridge::start(&config, |_| {}).unwrap();
        let level = |percent: u8, off_requested| plan::CardBrightness {
            brightness: Some(Brightness::all_day(percent)),
            off_requested,
        };
        let alone = plan::CardBrightness {
            brightness: None,
            off_requested: false,
        };
        assert!(
            !bridge.want_brightness(alone.clone()),
            "nothing asked, nothing sent"
        );
        assert_eq!(bridge.brightness_due, None);
        assert!(bridge.want_brightness(level(30, false)));
        assert_eq!(bridge.brightness_due, Some(Brightness::all_day(30)));
        assert!(!bridge.want_brightness(level(30, false)), "no change");
        assert!(bridge.want_brightness(level(1, true)), "off: 1 %, and said");
        assert!(bridge.off_requested);
        // The rotation stops dimming: the card goes back to full once, then
        // its own setting is left alone (not checked against anything).
        assert!(bridge.want_brightness(alone.clone()));
        assert_eq!(bridge.brightness_due, Some(Brightness::all_day(100)));
        assert_eq!(bridge.desired_brightness, None);
        assert!(!bridge.off_requested);
        assert!(!bridge.want_brightness(alone));
    }

    #[test]
    fn a_bad_bridge_config_is_refused_with_every_problem_named() {
        let mut config = BridgeConfig::default();
        let problem = Bridge::validate(&config).unwrap_err();
        assert!(
            problem.contains("address is empty") && problem.contains("控制卡地址"),
            "{problem}"
        );
        config.address = "192.168.10.20".into();
        config.brightness = vec![
            BrightnessStep {
                start: "25:00".into(),
                percent: 80,
            },
            BrightnessStep {
                start: "19:30".into(),
                percent: 0,
            },
        ];
        let problem = Bridge::validate(&config).unwrap_err();
        assert!(problem.contains("needs a port"), "{problem}");
        assert!(problem.contains("#1: start \"25:00\""), "{problem}");
        assert!(problem.contains("#2: percent 0"), "{problem}");
        config.address = "192.168.10.20:10001".into();
        config.brightness.truncate(0);
        assert_eq!(Bridge::validate(&config), Ok(()));
    }
}
