//! A Huidu card, emulated for tests and the demo: the same packet layer and
//! SDK XML a card speaks (version negotiation, guid, fragmented XML, file
//! transfer with MD5 check and resume, `AddProgram`, readback, screenshot),
//! a program list in "flash" that plays by itself on the card's own time,
//! and faults: offline, NAK, silence (timeout), an upload cut halfway, and a
//! reboot that comes back with the old program.
//!
//! Pure: the caller carries bytes between a socket and [`Emulator::receive`]
//! and passes the time in (`now_ms`); nothing here reads a clock.

use std::collections::BTreeMap;

use super::packet::{error_code, sdk_packets, Deframer, Packet, SdkAssembler, TRANSPORT_VERSION};
use super::program::{read_screen, StoredProgram};
use super::sdk::{self, Luminance, LuminanceItem, LuminanceMode};
use super::xml::{self, Element};
use crate::plan::md5_hex;

/// The card being emulated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Device id (at most 15 bytes), e.g. `WF2-D00-A0001`.
    pub id: String,
    /// Model name.
    pub model: String,
    /// Panel width.
    pub width: u32,
    /// Panel height.
    pub height: u32,
    /// Firmware version reported.
    pub app_version: String,
}

impl DeviceConfig {
    /// An HD-WF2 door-strip card of this size.
    pub fn door_strip(width: u32, height: u32) -> DeviceConfig {
        DeviceConfig {
            id: "WF2-D00-A0001".to_owned(),
            model: "HD-WF2".to_owned(),
            width,
            height,
            app_version: "7.10.78.1".to_owned(),
        }
    }
}

/// A fault to play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Refuses connections (powered off, unplugged, wrong address).
    Offline,
    /// Answers this SDK method with this result instead of `kSuccess`.
    Nak {
        /// The method, e.g. `AddProgram`.
        method: String,
        /// The result, e.g. `kNotSpaceToSave`.
        result: String,
    },
    /// Answers this binary command with an error packet (`kErrorAnswer`).
    ErrorAnswer {
        /// The command refused, e.g. [`super::packet::cmd::FILE_START_ASK`].
        cmd: u16,
        /// The `HErrorCode`.
        code: u16,
    },
    /// Accepts connections and reads, never answers.
    Silent,
    /// Closes the connection once this many file bytes arrived in it (once:
    /// the fault clears itself). The card keeps what it received.
    CutUpload {
        /// File bytes before the cut.
        after_bytes: u64,
    },
    /// Acknowledges `AddProgram`, but [`Emulator::reboot`] brings back the
    /// program list that was there before (the new one never reached flash).
    ForgetsOnReboot,
}

/// What the emulator sends back for some received bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Bytes to send to the host.
    pub bytes: Vec<u8>,
    /// Close the connection after sending them.
    pub close: bool,
}

/// The connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

/// A file on the card.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StoredFile {
    /// The MD5 announced at `FileStartAsk`.
    md5_hex: String,
    /// Announced size.
    size: u64,
    /// Bytes received so far.
    bytes: Vec<u8>,
    /// Checked and complete.
    complete: bool,
}

/// A program list the card plays.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Playlist {
    /// The programs.
    programs: Vec<StoredProgram>,
    /// The `timeStamps` it came with.
    timestamps: u64,
    /// When it started playing (card time, ms).
    since_ms: i64,
}

/// One open connection.
#[derive(Debug, Default)]
struct Connection {
    deframer: Deframer,
    assembler: SdkAssembler,
    /// Transport version agreed.
    negotiated: bool,
    /// Guid assigned by `GetIFVersion`.
    guid: Option<String>,
    /// A file being received: its name.
    receiving: Option<String>,
    /// File bytes received on this connection.
    file_bytes: u64,
}

/// Counters tests look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Connections accepted.
    pub connections: u64,
    /// `AddProgram` requests accepted.
    pub programs_added: u64,
    /// File bytes received.
    pub file_bytes: u64,
    /// Files completed.
    pub files_completed: u64,
    /// Reboots.
    pub reboots: u64,
    /// `SetLuminancePloy` requests accepted.
    pub luminance_sets: u64,
}

/// The emulated card.
#[derive(Debug)]
pub struct Emulator {
    /// What it is.
    config: DeviceConfig,
    /// Active faults.
    faults: Vec<Fault>,
    /// Files in flash.
    files: BTreeMap<String, StoredFile>,
    /// The program list playing.
    playlist: Option<Playlist>,
    /// The list in flash before the last `AddProgram` (for `ForgetsOnReboot`).
    previous: Option<Playlist>,
    /// Whether the current list reached flash.
    committed: bool,
    /// Brightness policy.
    luminance: Luminance,
    /// The open connection.
    connection: Option<Connection>,
    /// Counters.
    counters: Counters,
}

impl Emulator {
    /// A card with no program, full brightness.
    pub fn new(config: DeviceConfig) -> Emulator {
        Emulator {
            config,
            faults: Vec::new(),
            files: BTreeMap::new(),
            playlist: None,
            previous: None,
            committed: true,
            luminance: Luminance {
                mode: LuminanceMode::Default,
                default_percent: 100,
                sensor_min: 1,
                sensor_max: 100,
                sensor_seconds: 5,
                items: Vec::new(),
            },
            connection: None,
            counters: Counters::default(),
        }
    }

    /// The card's configuration.
    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    /// Adds a fault.
    pub fn add_fault(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// Clears every fault.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The programs in the list playing.
    pub fn programs(&self) -> &[StoredProgram] {
        self.playlist.as_ref().map_or(&[], |p| &p.programs)
    }

    /// The bytes of a complete file.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .get(name)
            .filter(|f| f.complete)
            .map(|f| f.bytes.as_slice())
    }

    /// Bytes held of a file (complete or not).
    pub fn file_bytes_held(&self, name: &str) -> u64 {
        self.files.get(name).map_or(0, |f| f.bytes.len() as u64)
    }

    /// The brightness policy.
    pub fn luminance(&self) -> &Luminance {
        &self.luminance
    }

    /// Sets the brightness policy from outside the SDK connection: someone
    /// with HDPlayer, or a card reset to its factory level.
    pub fn set_luminance_by_hand(&mut self, luminance: Luminance) {
        self.luminance = luminance;
    }

    /// The program playing at `now_ms` (card time) and when it started.
    pub fn playing(&self, now_ms: i64) -> Option<(&StoredProgram, i64)> {
        let list = self.playlist.as_ref()?;
        let loop_ms: u64 = list.programs.iter().map(|p| p.duration_ms).sum();
        if loop_ms == 0 {
            return None;
        }
        let elapsed = (now_ms - list.since_ms).max(0);
        let mut offset = (elapsed as u64) % loop_ms;
        for program in &list.programs {
            if offset < program.duration_ms {
                return Some((program, now_ms - offset as i64));
            }
            offset -= program.duration_ms;
        }
        None
    }

    /// Whether [`Fault::Offline`] is active.
    pub fn is_offline(&self) -> bool {
        self.faults.contains(&Fault::Offline)
    }

    /// A host connects. Refused while [`Fault::Offline`] is active.
    pub fn connect(&mut self) -> Result<(), Refused> {
        if self.faults.contains(&Fault::Offline) {
            return Err(Refused);
        }
        self.connection = Some(Connection::default());
        self.counters.connections += 1;
        Ok(())
    }

    /// The host went away (or the link broke). A file half received stays
    /// as it is: the next `FileStartAsk` for it resumes.
    pub fn disconnect(&mut self) {
        self.connection = None;
    }

    /// Power cycle: connections drop, the list in flash plays from its
    /// start. With [`Fault::ForgetsOnReboot`] a list that never reached
    /// flash is lost and the previous one comes back.
    pub fn reboot(&mut self, now_ms: i64) {
        self.connection = None;
        self.counters.reboots += 1;
        if !self.committed {
            self.playlist = self.previous.take();
            self.committed = true;
        }
        if let Some(list) = self.playlist.as_mut() {
            list.since_ms = now_ms;
        }
    }

    /// Bytes from the host at `now_ms` (card time).
    pub fn receive(&mut self, now_ms: i64, bytes: &[u8]) -> Output {
        let mut output = Output::default();
        let Some(mut connection) = self.connection.take() else {
            output.close = true;
            return output;
        };
        if self.faults.contains(&Fault::Silent) {
            self.connection = Some(connection);
            return output;
        }
        connection.deframer.push(bytes);
        loop {
            match connection.deframer.next_packet() {
                Ok(Some(packet)) => {
                    self.on_packet(now_ms, &mut connection, packet, &mut output);
                    if output.close {
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    // The vendor's code drops a stream it cannot frame.
                    output.close = true;
                    break;
                }
            }
        }
        if output.close {
            // A cut mid-file leaves the partial file for resumption.
            self.connection = None;
        } else {
            self.connection = Some(connection);
        }
        output
    }

    fn send(output: &mut Output, packet: &Packet) {
        if let Ok(bytes) = packet.encode() {
            output.bytes.extend_from_slice(&bytes);
        }
    }

    fn binary_fault(&self, cmd: u16) -> Option<u16> {
        self.faults.iter().find_map(|f| match f {
            Fault::ErrorAnswer { cmd: c, code } if *c == cmd => Some(*code),
            _ => None,
        })
    }

    fn on_packet(
        &mut self,
        now_ms: i64,
        connection: &mut Connection,
        packet: Packet,
        output: &mut Output,
    ) {
        if let Some(code) = self.binary_fault(packet.cmd()) {
            Self::send(output, &Packet::Error { code });
            return;
        }
        match packet {
            Packet::HeartbeatAsk => Self::send(output, &Packet::HeartbeatAnswer),
            Packet::ServiceAsk { version } => {
                connection.negotiated = true;
                Self::send(
                    output,
                    &Packet::ServiceAnswer {
                        version: version.min(TRANSPORT_VERSION.max(0x0100_0007)),
                    },
                );
            }
            Packet::SdkAsk(fragment) => {
                if !connection.negotiated {
                    return Self::send(output, &Packet::Error { code: 2 });
                }
                match connection.assembler.add(fragment) {
                    Ok(Some(document)) => {
                        let answer =
                            self.on_sdk(now_ms, connection, &String::from_utf8_lossy(&document));
                        for packet in sdk_packets(answer.as_bytes(), true) {
                            Self::send(output, &packet);
                        }
                    }
                    Ok(None) => {}
                    Err(_) => Self::send(
                        output,
                        &Packet::Error {
                            code: error_code("kInvalidXmlIndex").unwrap_or(21),
                        },
                    ),
                }
            }
            Packet::FileStartAsk {
                md5_hex,
                size,
                name,
                ..
            } => {
                let entry = self.files.entry(name.clone()).or_insert(StoredFile {
                    md5_hex: md5_hex.clone(),
                    size,
                    bytes: Vec::new(),
                    complete: false,
                });
                if entry.md5_hex != md5_hex || entry.size != size {
                    // Another content under this name: start over.
                    *entry = StoredFile {
                        md5_hex,
                        size,
                        bytes: Vec::new(),
                        complete: false,
                    };
                }
                let exist_size = entry.bytes.len() as u64;
                connection.receiving = Some(name);
                Self::send(
                    output,
                    &Packet::FileStartAnswer {
                        status: 0,
                        exist_size,
                    },
                );
            }
            Packet::FileContent(data) => {
                let Some(name) = connection.receiving.clone() else {
                    return Self::send(output, &Packet::Error { code: 2 });
                };
                let cut_at = self.faults.iter().find_map(|f| match f {
                    Fault::CutUpload { after_bytes } => Some(*after_bytes),
                    _ => None,
                });
                let mut take = data.len();
                let mut cut = false;
                if let Some(limit) = cut_at {
                    let room = limit.saturating_sub(connection.file_bytes) as usize;
                    if room < take {
                        take = room;
                        cut = true;
                    }
                }
                if let Some(file) = self.files.get_mut(&name) {
                    let room = (file.size as usize).saturating_sub(file.bytes.len());
                    file.bytes.extend_from_slice(&data[..take.min(room)]);
                }
                connection.file_bytes += take as u64;
                self.counters.file_bytes += take as u64;
                if cut {
                    self.faults
                        .retain(|f| !matches!(f, Fault::CutUpload { .. }));
                    output.close = true;
                }
            }
            Packet::FileEndAsk => {
                let Some(name) = connection.receiving.take() else {
                    return Self::send(output, &Packet::FileEndAnswer { status: 2 });
                };
                let status = match self.files.get_mut(&name) {
                    Some(file)
                        if file.bytes.len() as u64 == file.size
                            && md5_hex(&file.bytes) == file.md5_hex =>
                    {
                        file.complete = true;
                        self.counters.files_completed += 1;
                        0
                    }
                    Some(file) if (file.bytes.len() as u64) < file.size => {
                        error_code("kFileNotFinish").unwrap_or(19)
                    }
                    Some(file) => {
                        // Wrong content: the card discards it.
                        file.bytes.clear();
                        error_code("kFileContentError").unwrap_or(14)
                    }
                    None => error_code("kFileNotFound").unwrap_or(18),
                };
                Self::send(output, &Packet::FileEndAnswer { status });
            }
            _ => {}
        }
    }

    /// Answers one SDK document.
    fn on_sdk(&mut self, now_ms: i64, connection: &mut Connection, document: &str) -> String {
        let request = match xml::parse(document) {
            Ok(root) if root.name == "sdk" => root,
            _ => return answer("", "", "kParseXmlFailed", Vec::new()),
        };
        let Some(input) = request.find("in") else {
            return answer("", "", "kParseXmlFailed", Vec::new());
        };
        let method = input.get("method").unwrap_or_default().to_owned();
        if method == "GetIFVersion" {
            let guid = md5_hex(
                format!(
                    "{}-{}-{}",
                    self.config.id, self.counters.connections, now_ms
                )
                .as_bytes(),
            );
            connection.guid = Some(guid.clone());
            return answer(
                &guid,
                &method,
                "kSuccess",
                vec![Element::new("version").attr("value", sdk::SDK_VERSION)],
            );
        }
        let guid = connection.guid.clone().unwrap_or_default();
        if request.get("guid") != Some(guid.as_str()) || guid.is_empty() {
            return answer(&guid, &method, "kInvalidGUID", Vec::new());
        }
        if let Some(result) = self.faults.iter().find_map(|f| match f {
            Fault::Nak { method: m, result } if *m == method => Some(result.clone()),
            _ => None,
        }) {
            return answer(&guid, &method, &result, Vec::new());
        }
        let (result, children) = match method.as_str() {
            "GetDeviceInfo" => (
                "kSuccess",
                vec![
                    Element::new("device")
                        .attr("cpu", "emulated")
                        .attr("model", self.config.model.as_str())
                        .attr("name", "ledcast-emulator")
                        .attr("id", self.config.id.as_str()),
                    Element::new("version")
                        .attr("fpga", "0")
                        .attr("kernel", "")
                        .attr("app", self.config.app_version.as_str()),
                    Element::new("screen")
                        .attr("width", self.config.width.to_string())
                        .attr("height", self.config.height.to_string())
                        .attr("rotation", "0"),
                ],
            ),
            "GetFiles" => {
                let mut files = Element::new("files");
                for (name, file) in &self.files {
                    files = files.child(
                        Element::new("file")
                            .attr("existSize", file.bytes.len().to_string())
                            .attr("type", "0")
                            .attr("md5", file.md5_hex.as_str())
                            .attr("name", name.as_str())
                            .attr("size", file.size.to_string()),
                    );
                }
                ("kSuccess", vec![files])
            }
            "AddProgram" => match input.find("screen") {
                None => ("kInvalidParam", Vec::new()),
                Some(screen) => {
                    let programs = read_screen(screen);
                    let missing = programs
                        .iter()
                        .filter_map(|p| p.file_name.as_ref())
                        .any(|name| !self.files.get(name).is_some_and(|f| f.complete));
                    if missing {
                        ("kFileNotFound", Vec::new())
                    } else {
                        let timestamps = screen
                            .get("timeStamps")
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(0);
                        let list = Playlist {
                            programs,
                            timestamps,
                            since_ms: now_ms,
                        };
                        let forgets = self.faults.contains(&Fault::ForgetsOnReboot);
                        if self.committed {
                            self.previous = self.playlist.take();
                        }
                        self.playlist = Some(list);
                        self.committed = !forgets;
                        if !forgets {
                            self.previous = None;
                        }
                        self.counters.programs_added += 1;
                        ("kSuccess", Vec::new())
                    }
                }
            },
            "GetCurrentPlayProgramGUID" => (
                "kSuccess",
                vec![Element::new("program").attr(
                    "guid",
                    self.playing(now_ms)
                        .map(|(p, _)| p.guid.clone())
                        .unwrap_or_default(),
                )],
            ),
            "SetLuminancePloy" => {
                let parsed = sdk::Answer {
                    guid: guid.clone(),
                    method: method.clone(),
                    result: "kSuccess".to_owned(),
                    out: input.clone(),
                };
                match sdk::luminance(&parsed) {
                    Ok(l) if l.items.iter().all(|i| sdk::parse_hms(&i.start).is_some()) => {
                        self.luminance = l;
                        self.counters.luminance_sets += 1;
                        ("kSuccess", Vec::new())
                    }
                    _ => ("kInvalidParam", Vec::new()),
                }
            }
            "GetLuminancePloy" => {
                let l = &self.luminance;
                let mut ploy = Element::new("ploy");
                for LuminanceItem {
                    enable,
                    start,
                    percent,
                } in &l.items
                {
                    ploy = ploy.child(
                        Element::new("item")
                            .attr("enable", if *enable { "true" } else { "false" })
                            .attr("start", start.as_str())
                            .attr("percent", percent.to_string()),
                    );
                }
                (
                    "kSuccess",
                    vec![
                        Element::new("mode").attr("value", l.mode.as_str()),
                        Element::new("default").attr("value", l.default_percent.to_string()),
                        Element::new("sensor")
                            .attr("min", l.sensor_min.to_string())
                            .attr("max", l.sensor_max.to_string())
                            .attr("time", l.sensor_seconds.to_string()),
                        ploy,
                    ],
                )
            }
            "GetScreenshot2" => (
                "kSuccess",
                vec![Element::new("image").attr(
                    "data",
                    sdk::encode_screenshot(&self.screenshot_jpeg(now_ms)),
                )],
            ),
            _ => ("kUnsupportMethod", Vec::new()),
        };
        answer(&guid, &method, result, children)
    }

    /// What the panel shows at `now_ms`, as RGB rows (width × height × 3).
    pub fn frame_rgb(&self, now_ms: i64) -> Vec<u8> {
        let (w, h) = (self.config.width as usize, self.config.height as usize);
        let mut frame = vec![0u8; w * h * 3];
        let Some((program, _)) = self.playing(now_ms) else {
            return frame;
        };
        let Some(bytes) = program.file_name.as_deref().and_then(|n| self.file(n)) else {
            return frame;
        };
        let Some((iw, ih, rgb)) = decode_png_rgb(bytes) else {
            return frame;
        };
        for y in 0..h {
            for x in 0..w {
                // Stills fill the panel; a strip shows its first panel width
                // (the card moves it; the moment of the screenshot decides).
                let (sx, sy) = if program.scrolls {
                    (x * ih / h.max(1), y * ih / h.max(1))
                } else {
                    (x * iw / w.max(1), y * ih / h.max(1))
                };
                if sx < iw && sy < ih {
                    let from = (sy * iw + sx) * 3;
                    frame[(y * w + x) * 3..(y * w + x) * 3 + 3]
                        .copy_from_slice(&rgb[from..from + 3]);
                }
            }
        }
        frame
    }

    /// `GetScreenshot2`'s picture: the panel at `now_ms` as a JPEG.
    pub fn screenshot_jpeg(&self, now_ms: i64) -> Vec<u8> {
        let frame = self.frame_rgb(now_ms);
        let mut out = Vec::new();
        let encoder = jpeg_encoder::Encoder::new(&mut out, 90);
        let _ = encoder.encode(
            &frame,
            self.config.width.min(u32::from(u16::MAX)) as u16,
            self.config.height.min(u32::from(u16::MAX)) as u16,
            jpeg_encoder::ColorType::Rgb,
        );
        out
    }

    /// The `timeStamps` of the list playing.
    pub fn timestamps(&self) -> Option<u64> {
        self.playlist.as_ref().map(|p| p.timestamps)
    }
}

/// An answer document in the vendor's layout.
fn answer(guid: &str, method: &str, result: &str, children: Vec<Element>) -> String {
    let mut out = Element::new("out")
        .attr("method", method)
        .attr("result", result);
    out.children = children;
    Element::new("sdk")
        .attr("guid", guid)
        .child(out)
        .to_document()
}

/// Decodes a PNG to 8-bit RGB (`None` if it is not a PNG this can read).
pub fn decode_png_rgb(bytes: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let mut buffer = vec![0u8; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buffer).ok()?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let mut rgb = Vec::with_capacity(w * h * 3);
    for pixel in buffer[..info.buffer_size()].chunks_exact(channels) {
        match channels {
            1 | 2 => rgb.extend_from_slice(&[pixel[0], pixel[0], pixel[0]]),
            _ => rgb.extend_from_slice(&pixel[..3]),
        }
    }
    Some((w, h, rgb))
}
