//! One conversation with a Huidu card, sans-IO: the caller connects, feeds
//! received bytes in ([`Session::handle_received`]), sends what
//! [`Session::poll_transmit`] returns, and tells the session when the link
//! timed out or closed. Every request waits for its answer before the next
//! one goes out, as the vendor requires (no SDK request may interleave with a
//! file transfer).
//!
//! An upload: transport version → `GetIFVersion` (guid) → `GetDeviceInfo`
//! (the panel must match the plan) → `GetFiles` (files the card already
//! holds with the same MD5 are not sent again; a partly received file
//! resumes at the card's `existSize`) → each file (`FileStartAsk`, content,
//! `FileEndAsk`) → `SetLuminancePloy` (when the plan has a schedule) →
//! `AddProgram` → readback (`GetCurrentPlayProgramGUID`,
//! `GetLuminancePloy`, optionally `GetScreenshot2`). A check is the readback
//! alone, or `SetLuminancePloy` and the readback when it carries a
//! brightness (no file, no `AddProgram`: the card keeps playing). No clock
//! is read: timeouts are the caller's.

use std::collections::VecDeque;

use thiserror::Error;

use crate::plan::{Brightness, LoopPlan};

use super::packet::{
    error_name, sdk_packets, Deframer, Packet, PacketError, SdkAssembler, MAX_FILE_CHUNK,
    TRANSPORT_VERSION,
};
use super::program;
use super::sdk::{self, Answer, AnswerError, DeviceInfo, Luminance};

/// What a session is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    /// Put this loop on the card, then read back.
    Upload {
        /// The loop.
        plan: LoopPlan,
        /// The `timeStamps` of the new program list (must change per upload;
        /// the caller passes its clock's seconds).
        timestamps: u64,
        /// Also fetch a screenshot.
        screenshot: bool,
    },
    /// Read back, after setting the brightness if one is given: the way
    /// to change the card's brightness without uploading the program again
    /// (which would interrupt the card and its confirmation).
    Check {
        /// Also fetch a screenshot.
        screenshot: bool,
        /// Put this brightness on the card first (`SetLuminancePloy`).
        brightness: Option<Brightness>,
    },
}

/// What the card reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `GetDeviceInfo`.
    pub device: DeviceInfo,
    /// The program the card plays now (`GetCurrentPlayProgramGUID`).
    pub playing_program: Option<String>,
    /// Its brightness policy (`GetLuminancePloy`).
    pub luminance: Option<Luminance>,
    /// The upload, when the task was one and the card confirmed it.
    pub upload: Option<UploadReport>,
    /// `GetScreenshot2`: a JPEG of what the card shows.
    pub screenshot_jpeg: Option<Vec<u8>>,
}

/// The figures of a confirmed upload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// The loop uploaded.
    pub loop_id: String,
    /// Files sent (whole or resumed).
    pub files_sent: usize,
    /// Files the card already held.
    pub files_skipped: usize,
    /// File bytes sent.
    pub bytes_sent: u64,
}

/// Why a session failed. Messages say what happened in words a bank's IT
/// person can act on, in English and Chinese.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SessionError {
    /// Bytes that are not Huidu packets.
    #[error("the controller sent something that is not the Huidu protocol ({0}); is the address right? (控制卡返回的数据不是灰度协议，请检查地址和端口)")]
    Packet(#[from] PacketError),
    /// An SDK answer that cannot be read.
    #[error("the controller's answer cannot be read: {0} (控制卡应答无法解析)")]
    Answer(#[from] AnswerError),
    /// The card answered a step with an error code.
    #[error("the controller refused {step}: {name} (code {code}) (控制卡拒绝了{step}：{name})")]
    Refused {
        /// The step.
        step: &'static str,
        /// The `HErrorCode`.
        code: u16,
        /// Its name, or `unknown`.
        name: &'static str,
    },
    /// The card answered an SDK method with a result other than `kSuccess`.
    #[error("the controller answered {method} with {result} (控制卡对{method}的应答是{result})")]
    Nak {
        /// The method.
        method: String,
        /// Its result.
        result: String,
    },
    /// The card answered something else than the step expects.
    #[error("the controller answered {step} with packet 0x{cmd:04x} (控制卡应答顺序错误)")]
    Unexpected {
        /// The step.
        step: &'static str,
        /// The packet's command.
        cmd: u16,
    },
    /// The panel size on the card differs from the screen's profile.
    #[error("the controller's panel is {card_width}x{card_height} px but the screen profile is {width}x{height} px; fix the screen parameters on the card (HDPlayer) or the profile (控制卡屏幕尺寸与屏幕档案不一致)")]
    SizeMismatch {
        /// Card width.
        card_width: u32,
        /// Card height.
        card_height: u32,
        /// Profile width.
        width: u32,
        /// Profile height.
        height: u32,
    },
    /// No answer in time.
    #[error("the controller did not answer {step} in time (控制卡在{step}时没有应答)")]
    Timeout {
        /// The step.
        step: &'static str,
    },
    /// The connection closed (or could not be opened).
    #[error(
        "the connection to the controller closed during {step} (与控制卡的连接在{step}时断开)"
    )]
    Closed {
        /// The step.
        step: &'static str,
    },
}

/// The steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Version,
    IfVersion,
    DeviceInfo,
    Files,
    FileStart(usize),
    FileEnd(usize),
    SetLuminance,
    AddProgram,
    CurrentProgram,
    GetLuminance,
    Screenshot,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Version => "version negotiation",
            Step::IfVersion => "GetIFVersion",
            Step::DeviceInfo => "GetDeviceInfo",
            Step::Files => "GetFiles",
            Step::FileStart(_) => "file start",
            Step::FileEnd(_) => "file end",
            Step::SetLuminance => "SetLuminancePloy",
            Step::AddProgram => "AddProgram",
            Step::CurrentProgram => "GetCurrentPlayProgramGUID",
            Step::GetLuminance => "GetLuminancePloy",
            Step::Screenshot => "GetScreenshot2",
        }
    }
}

/// The session state machine.
#[derive(Debug)]
pub struct Session {
    /// What it is for.
    task: Task,
    /// Steps still to run.
    steps: VecDeque<Step>,
    /// The step waiting for its answer.
    current: Option<Step>,
    /// The guid `GetIFVersion` assigned.
    guid: String,
    /// Incoming packets.
    deframer: Deframer,
    /// Incoming XML.
    assembler: SdkAssembler,
    /// Packets to send.
    outbox: VecDeque<Vec<u8>>,
    /// What was read so far.
    report: Report,
    /// Upload figures so far.
    upload: UploadReport,
    /// The outcome, once known.
    outcome: Option<Result<Report, SessionError>>,
}

impl Session {
    /// A session for `task`; its first packet is ready to send.
    pub fn new(task: Task) -> Session {
        let mut steps = VecDeque::from([Step::Version, Step::IfVersion, Step::DeviceInfo]);
        match task {
            // The readback steps follow once the card's files are known.
            Task::Upload { .. } => steps.push_back(Step::Files),
            Task::Check {
                screenshot,
                ref brightness,
            } => {
                if brightness.is_some() {
                    steps.push_back(Step::SetLuminance);
                }
                steps.extend([Step::CurrentProgram, Step::GetLuminance]);
                if screenshot {
                    steps.push_back(Step::Screenshot);
                }
            }
        }
        let mut session = Session {
            task,
            steps,
            current: None,
            guid: sdk::PLACEHOLDER_GUID.to_owned(),
            deframer: Deframer::new(),
            assembler: SdkAssembler::default(),
            outbox: VecDeque::new(),
            report: Report::default(),
            upload: UploadReport::default(),
            outcome: None,
        };
        session.start_next();
        session
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    /// The outcome, once the session is over.
    pub fn outcome(&self) -> Option<&Result<Report, SessionError>> {
        self.outcome.as_ref()
    }

    /// Takes the outcome.
    pub fn take_outcome(&mut self) -> Option<Result<Report, SessionError>> {
        self.outcome.take()
    }

    /// Whether the session waits for an answer.
    pub fn is_waiting(&self) -> bool {
        self.outcome.is_none() && self.current.is_some()
    }

    /// The step waiting for an answer (for logs).
    pub fn step_name(&self) -> &'static str {
        self.current.map_or("connect", Step::name)
    }

    /// No answer came within the caller's timeout.
    pub fn handle_timeout(&mut self) {
        let step = self.step_name();
        self.fail(SessionError::Timeout { step });
    }

    /// The link closed (or never opened).
    pub fn handle_closed(&mut self) {
        if self.outcome.is_none() {
            let step = self.step_name();
            self.fail(SessionError::Closed { step });
        }
    }

    /// Bytes arrived.
    pub fn handle_received(&mut self, bytes: &[u8]) {
        if self.outcome.is_some() {
            return;
        }
        self.deframer.push(bytes);
        loop {
            match self.deframer.next_packet() {
                Ok(Some(packet)) => {
                    self.on_packet(packet);
                    if self.outcome.is_some() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => return self.fail(e.into()),
            }
        }
    }

    fn fail(&mut self, error: SessionError) {
        self.current = None;
        self.steps.clear();
        self.outbox.clear();
        self.outcome = Some(Err(error));
    }

    fn send(&mut self, packet: &Packet) {
        match packet.encode() {
            Ok(bytes) => self.outbox.push_back(bytes),
            Err(e) => self.fail(e.into()),
        }
    }

    fn send_xml(&mut self, xml: &str) {
        for packet in sdk_packets(xml.as_bytes(), false) {
            self.send(&packet);
        }
    }

    fn plan(&self) -> Option<&LoopPlan> {
        match &self.task {
            Task::Upload { plan, .. } => Some(plan),
            Task::Check { .. } => None,
        }
    }

    fn wants_screenshot(&self) -> bool {
        match self.task {
            Task::Upload { screenshot, .. } | Task::Check { screenshot, .. } => screenshot,
        }
    }

    /// The brightness to set: the plan's in an upload, the check's own.
    fn brightness(&self) -> Option<&Brightness> {
        match &self.task {
            Task::Upload { plan, .. } => plan.brightness.as_ref(),
            Task::Check { brightness, .. } => brightness.as_ref(),
        }
    }

    fn start_next(&mut self) {
        let Some(step) = self.steps.pop_front() else {
            self.current = None;
            let mut report = std::mem::take(&mut self.report);
            if matches!(self.task, Task::Upload { .. }) {
                report.upload = Some(std::mem::take(&mut self.upload));
            }
            self.outcome = Some(Ok(report));
            return;
        };
        self.current = Some(step);
        let guid = self.guid.clone();
        match step {
            Step::Version => self.send(&Packet::ServiceAsk {
                version: TRANSPORT_VERSION,
            }),
            Step::IfVersion => self.send_xml(&sdk::get_if_version()),
            Step::DeviceInfo => self.send_xml(&sdk::simple(&guid, "GetDeviceInfo")),
            Step::Files => self.send_xml(&sdk::simple(&guid, "GetFiles")),
            Step::FileStart(index) => {
                let Some(file) = self.plan().and_then(|p| p.files.get(index)).cloned() else {
                    return self.start_next();
                };
                self.send(&Packet::FileStartAsk {
                    md5_hex: file.md5_hex(),
                    size: file.bytes.len() as u64,
                    file_type: 0,
                    name: file.name.clone(),
                });
            }
            Step::FileEnd(_) => {}
            Step::SetLuminance => {
                let Some(luminance) = self.brightness().map(Luminance::for_brightness) else {
                    return self.start_next();
                };
                self.send_xml(&sdk::set_luminance(&guid, &luminance));
            }
            Step::AddProgram => {
                let Task::Upload {
                    plan, timestamps, ..
                } = &self.task
                else {
                    return self.start_next();
                };
                let xml = sdk::add_program(&guid, program::screen_element(plan, *timestamps));
                self.send_xml(&xml);
            }
            Step::CurrentProgram => self.send_xml(&sdk::simple(&guid, "GetCurrentPlayProgramGUID")),
            Step::GetLuminance => self.send_xml(&sdk::simple(&guid, "GetLuminancePloy")),
            Step::Screenshot => self.send_xml(&sdk::get_screenshot(&guid)),
        }
    }

    /// Reads an SDK answer for `method`; `None` while fragments are missing.
    fn answer(&mut self, packet: Packet, step: Step, method: &str) -> Option<Answer> {
        let fragment = match packet {
            Packet::SdkAnswer(f) => f,
            Packet::Error { code } => {
                self.refused(step, code);
                return None;
            }
            other => {
                self.fail(SessionError::Unexpected {
                    step: step.name(),
                    cmd: other.cmd(),
                });
                return None;
            }
        };
        let document = match self.assembler.add(fragment) {
            Ok(Some(document)) => document,
            Ok(None) => return None,
            Err(e) => {
                self.fail(e.into());
                return None;
            }
        };
        let answer = match Answer::parse(&String::from_utf8_lossy(&document)) {
            Ok(a) => a,
            Err(e) => {
                self.fail(e.into());
                return None;
            }
        };
        if !answer.is_success() {
            self.fail(SessionError::Nak {
                method: method.to_owned(),
                result: answer.result.clone(),
            });
            return None;
        }
        Some(answer)
    }

    fn refused(&mut self, step: Step, code: u16) {
        self.fail(SessionError::Refused {
            step: step.name(),
            code,
            name: error_name(code).unwrap_or("unknown"),
        });
    }

    fn on_packet(&mut self, packet: Packet) {
        // Keep-alives may arrive at any time; answer and move on.
        if packet == Packet::HeartbeatAsk {
            return self.send(&Packet::HeartbeatAnswer);
        }
        if packet == Packet::HeartbeatAnswer {
            return;
        }
        let Some(step) = self.current else {
            return;
        };
        match step {
            Step::Version => match packet {
                Packet::ServiceAnswer { .. } => self.start_next(),
                Packet::Error { code } => self.refused(step, code),
                other => self.fail(SessionError::Unexpected {
                    step: step.name(),
                    cmd: other.cmd(),
                }),
            },
            Step::IfVersion => {
                if let Some(answer) = self.answer(packet, step, "GetIFVersion") {
                    self.guid = answer.guid;
                    self.start_next();
                }
            }
            Step::DeviceInfo => {
                let Some(answer) = self.answer(packet, step, "GetDeviceInfo") else {
                    return;
                };
                match sdk::device_info(&answer) {
                    Ok(info) => {
                        if let Some(plan) = self.plan() {
                            if (info.width, info.height) != (plan.width, plan.height) {
                                let error = SessionError::SizeMismatch {
                                    card_width: info.width,
                                    card_height: info.height,
                                    width: plan.width,
                                    height: plan.height,
                                };
                                self.report.device = info;
                                return self.fail(error);
                            }
                        }
                        self.report.device = info;
                        self.start_next();
                    }
                    Err(e) => self.fail(e.into()),
                }
            }
            Step::Files => {
                let Some(answer) = self.answer(packet, step, "GetFiles") else {
                    return;
                };
                let held = sdk::files(&answer);
                let Some(plan) = self.plan() else {
                    return self.start_next();
                };
                let mut sends = Vec::new();
                let mut skipped = 0;
                for (index, file) in plan.files.iter().enumerate() {
                    let md5 = file.md5_hex();
                    let complete = held.iter().any(|h| {
                        h.name == file.name
                            && h.md5_hex == md5
                            && h.exist_size >= file.bytes.len() as u64
                    });
                    if complete {
                        skipped += 1;
                    } else {
                        sends.push(Step::FileStart(index));
                    }
                }
                self.upload.files_skipped = skipped;
                let mut rest: Vec<Step> = sends;
                rest.extend([Step::SetLuminance, Step::AddProgram]);
                rest.extend(self.readback_steps());
                self.steps = rest.into();
                self.start_next();
            }
            Step::FileStart(index) => match packet {
                Packet::FileStartAnswer { status, exist_size } => {
                    if status != 0 {
                        return self.refused(step, status);
                    }
                    let Some(file) = self.plan().and_then(|p| p.files.get(index)).cloned() else {
                        return self.start_next();
                    };
                    let from = (exist_size as usize).min(file.bytes.len());
                    for chunk in file.bytes[from..].chunks(MAX_FILE_CHUNK) {
                        self.send(&Packet::FileContent(chunk.to_vec()));
                    }
                    self.send(&Packet::FileEndAsk);
                    self.upload.bytes_sent += (file.bytes.len() - from) as u64;
                    self.current = Some(Step::FileEnd(index));
                }
                Packet::Error { code } => self.refused(step, code),
                other => self.fail(SessionError::Unexpected {
                    step: step.name(),
                    cmd: other.cmd(),
                }),
            },
            Step::FileEnd(_) => match packet {
                Packet::FileEndAnswer { status: 0 } => {
                    self.upload.files_sent += 1;
                    self.start_next();
                }
                Packet::FileEndAnswer { status } | Packet::Error { code: status } => {
                    self.refused(step, status)
                }
                other => self.fail(SessionError::Unexpected {
                    step: step.name(),
                    cmd: other.cmd(),
                }),
            },
            Step::SetLuminance => {
                if self.answer(packet, step, "SetLuminancePloy").is_some() {
                    self.start_next();
                }
            }
            Step::AddProgram => {
                if self.answer(packet, step, "AddProgram").is_some() {
                    if let Some(plan) = self.plan() {
                        self.upload.loop_id = plan.loop_id.clone();
                    }
                    self.start_next();
                }
            }
            Step::CurrentProgram => {
                if let Some(answer) = self.answer(packet, step, "GetCurrentPlayProgramGUID") {
                    self.report.playing_program = sdk::current_program(&answer);
                    self.start_next();
                }
            }
            Step::GetLuminance => {
                if let Some(answer) = self.answer(packet, step, "GetLuminancePloy") {
                    match sdk::luminance(&answer) {
                        Ok(l) => {
                            self.report.luminance = Some(l);
                            self.start_next();
                        }
                        Err(e) => self.fail(e.into()),
                    }
                }
            }
            Step::Screenshot => {
                if let Some(answer) = self.answer(packet, step, "GetScreenshot2") {
                    match sdk::screenshot(&answer) {
                        Ok(jpeg) => {
                            self.report.screenshot_jpeg = Some(jpeg);
                            self.start_next();
                        }
                        Err(e) => self.fail(e.into()),
                    }
                }
            }
        }
    }

    fn readback_steps(&self) -> Vec<Step> {
        let mut steps = vec![Step::CurrentProgram, Step::GetLuminance];
        if self.wants_screenshot() {
            steps.push(Step::Screenshot);
        }
        steps
    }
}
