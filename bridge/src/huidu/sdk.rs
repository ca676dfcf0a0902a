//! SDK methods: the XML requests this bridge sends and the answers it reads
//! (vendor SDK document §1.6, §3, §4). Requests are written in the layout of
//! the vendor's examples, so the documented examples are test vectors.
//!
//! Only the methods the bridge uses are modelled: `GetIFVersion`,
//! `GetDeviceInfo`, `GetFiles`, `AddProgram`, `SetLuminancePloy`,
//! `GetLuminancePloy`, `GetCurrentPlayProgramGUID`, `GetScreenshot2`.

use base64::Engine;
use thiserror::Error;

use super::xml::{self, Element, XmlError};
use crate::plan::Brightness;

/// The SDK version offered in `GetIFVersion` (the only value the vendor lists).
pub const SDK_VERSION: &str = "1000000";
/// The guid placeholder used before `GetIFVersion` assigns one.
pub const PLACEHOLDER_GUID: &str = "##GUID";

/// An SDK request document: `<sdk guid><in method>children</in></sdk>`.
pub fn request(guid: &str, method: &str, children: Vec<Element>) -> String {
    let mut inner = Element::new("in").attr("method", method);
    inner.children = children;
    Element::new("sdk")
        .attr("guid", guid)
        .child(inner)
        .to_document()
}

/// `GetIFVersion`: the first request of a connection (assigns the guid).
pub fn get_if_version() -> String {
    request(
        PLACEHOLDER_GUID,
        "GetIFVersion",
        vec![Element::new("version").attr("value", SDK_VERSION)],
    )
}

/// A request without parameters (`GetDeviceInfo`, `GetFiles`, …).
pub fn simple(guid: &str, method: &str) -> String {
    request(guid, method, Vec::new())
}

/// `GetScreenshot2` at the card's own size.
pub fn get_screenshot(guid: &str) -> String {
    request(
        guid,
        "GetScreenshot2",
        vec![Element::new("image").attr("width", "0").attr("height", "0")],
    )
}

/// How the card sets its brightness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LuminanceMode {
    /// One fixed level.
    Default,
    /// A daily schedule of levels (`ploys`).
    Ploys,
    /// The light sensor.
    Sensor,
}

impl LuminanceMode {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            LuminanceMode::Default => "default",
            LuminanceMode::Ploys => "ploys",
            LuminanceMode::Sensor => "sensor",
        }
    }

    fn parse(text: &str) -> Option<LuminanceMode> {
        match text {
            "default" => Some(LuminanceMode::Default),
            "ploys" => Some(LuminanceMode::Ploys),
            "sensor" => Some(LuminanceMode::Sensor),
            _ => None,
        }
    }
}

/// One entry of a brightness schedule: from `start` on, `percent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LuminanceItem {
    /// Whether the entry is in force.
    pub enable: bool,
    /// Local time of day, `hh:mm:ss`.
    pub start: String,
    /// Brightness, 1–100.
    pub percent: u8,
}

/// The card's brightness policy (`Get`/`SetLuminancePloy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Luminance {
    /// Which rule applies.
    pub mode: LuminanceMode,
    /// The level in `default` mode, 1–100.
    pub default_percent: u8,
    /// Sensor mode: lowest level.
    pub sensor_min: u8,
    /// Sensor mode: highest level.
    pub sensor_max: u8,
    /// Sensor mode: seconds between adjustments (5–15).
    pub sensor_seconds: u8,
    /// The schedule (`ploys` mode).
    pub items: Vec<LuminanceItem>,
}

impl Luminance {
    /// The level the policy gives at local `seconds_of_day` (sensor mode:
    /// `None`, the card decides).
    pub fn percent_at(&self, seconds_of_day: u32) -> Option<u8> {
        match self.mode {
            LuminanceMode::Default => Some(self.default_percent),
            LuminanceMode::Sensor => None,
            LuminanceMode::Ploys => {
                let mut items: Vec<(u32, u8)> = self
                    .items
                    .iter()
                    .filter(|i| i.enable)
                    .filter_map(|i| Some((parse_hms(&i.start)?, i.percent)))
                    .collect();
                items.sort_unstable();
                // Before the first entry of the day, the last one of the previous day holds.
                items
                    .iter()
                    .rev()
                    .find(|(start, _)| *start <= seconds_of_day)
                    .or(items.last())
                    .map(|(_, p)| *p)
                    .or(Some(self.default_percent))
            }
        }
    }
}

impl Luminance {
    /// The policy that puts `brightness` on the card: one level all day
    /// ([`Brightness::all_day`]) is `default` mode at that level (its ploy
    /// list holds the same level, as the vendor's demo always sends one);
    /// anything else is a daily schedule (`ploys`). Levels are clamped to
    /// the card's range, 1–100: a card cannot be switched off this way.
    pub fn for_brightness(brightness: &Brightness) -> Luminance {
        let items: Vec<LuminanceItem> = brightness
            .entries
            .iter()
            .map(|e| LuminanceItem {
                enable: true,
                start: parse_hms(&e.start).map_or_else(
                    || e.start.clone(),
                    |s| format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60),
                ),
                percent: e.percent.clamp(1, 100),
            })
            .collect();
        Luminance {
            mode: if brightness.all_day_percent().is_some() {
                LuminanceMode::Default
            } else {
                LuminanceMode::Ploys
            },
            default_percent: items.first().map_or(100, |i| i.percent),
            sensor_min: 1,
            sensor_max: 100,
            sensor_seconds: 5,
            items,
        }
    }

    /// Whether `other` sets the panel the same way: the same mode and, for
    /// it, the same level (`default`), the same enabled entries in time
    /// order (`ploys`), or the same range (`sensor`). What the card reads
    /// back is compared with what the agent wants this way, so a card
    /// reset or a change made in HDPlayer shows.
    pub fn same_policy(&self, other: &Luminance) -> bool {
        fn entries(l: &Luminance) -> Vec<(Option<u32>, u8)> {
            let mut entries: Vec<(Option<u32>, u8)> = l
                .items
                .iter()
                .filter(|i| i.enable)
                .map(|i| (parse_hms(&i.start), i.percent))
                .collect();
            entries.sort_unstable();
            entries
        }
        self.mode == other.mode
            && match self.mode {
                LuminanceMode::Default => self.default_percent == other.default_percent,
                LuminanceMode::Ploys => entries(self) == entries(other),
                LuminanceMode::Sensor => {
                    (self.sensor_min, self.sensor_max) == (other.sensor_min, other.sensor_max)
                }
            }
    }
}

/// `hh:mm:ss` or `hh:mm` to seconds of the day.
pub fn parse_hms(text: &str) -> Option<u32> {
    let mut parts = text.split(':').map(|p| p.parse::<u32>().ok());
    let h = parts.next()??;
    let m = parts.next()??;
    let s = parts.next().unwrap_or(Some(0))?;
    (h < 24 && m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

/// `SetLuminancePloy`, children in the order of the vendor's C# demo.
pub fn set_luminance(guid: &str, luminance: &Luminance) -> String {
    let mut ploy = Element::new("ploy");
    for item in &luminance.items {
        ploy = ploy.child(
            Element::new("item")
                .attr("enable", if item.enable { "true" } else { "false" })
                .attr("start", item.start.as_str())
                .attr("percent", item.percent.to_string()),
        );
    }
    request(
        guid,
        "SetLuminancePloy",
        vec![
            Element::new("mode").attr("value", luminance.mode.as_str()),
            Element::new("default").attr("value", luminance.default_percent.to_string()),
            Element::new("sensor")
                .attr("min", luminance.sensor_min.to_string())
                .attr("max", luminance.sensor_max.to_string())
                .attr("time", luminance.sensor_seconds.to_string()),
            ploy,
        ],
    )
}

/// `AddProgram` with a prepared `<screen>` element (see [`super::program`]).
pub fn add_program(guid: &str, screen: Element) -> String {
    request(guid, "AddProgram", vec![screen])
}

/// An SDK answer: `<sdk guid><out method result>…</out></sdk>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The connection's guid.
    pub guid: String,
    /// The method answered.
    pub method: String,
    /// `kSuccess` or the vendor's error name.
    pub result: String,
    /// The `<out>` element.
    pub out: Element,
}

/// Why an answer is unusable.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// Not XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Not an `<sdk><out …>` document.
    #[error("the controller's answer has no <sdk><out> element")]
    NotAnAnswer,
    /// A field is missing or out of range.
    #[error("the controller's {method} answer lacks {what}")]
    Missing {
        /// The method.
        method: &'static str,
        /// What.
        what: &'static str,
    },
    /// The screenshot is not base64.
    #[error("the controller's screenshot is not base64: {0}")]
    Base64(String),
}

impl Answer {
    /// Parses an answer document.
    pub fn parse(document: &str) -> Result<Answer, AnswerError> {
        let root = xml::parse(document)?;
        if root.name != "sdk" {
            return Err(AnswerError::NotAnAnswer);
        }
        let out = root.find("out").ok_or(AnswerError::NotAnAnswer)?.clone();
        Ok(Answer {
            guid: root.get("guid").unwrap_or_default().to_owned(),
            method: out
                .get("method")
                .or_else(|| out.get("xmlns"))
                .unwrap_or_default()
                .to_owned(),
            result: out.get("result").unwrap_or_default().to_owned(),
            out,
        })
    }

    /// Whether the card reports success.
    pub fn is_success(&self) -> bool {
        self.result == "kSuccess"
    }
}

/// What `GetDeviceInfo` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device id, e.g. `C16L-D00-A000F` (at most 15 bytes).
    pub id: String,
    /// Model, e.g. `HD-WF2`.
    pub model: String,
    /// The name set on the card.
    pub name: String,
    /// Firmware (`version.app`).
    pub app_version: String,
    /// Panel width in pixels.
    pub width: u32,
    /// Panel height in pixels.
    pub height: u32,
}

/// Reads a `GetDeviceInfo` answer.
pub fn device_info(answer: &Answer) -> Result<DeviceInfo, AnswerError> {
    let missing = |what| AnswerError::Missing {
        method: "GetDeviceInfo",
        what,
    };
    let device = answer.out.find("device").ok_or(missing("<device>"))?;
    let version = answer.out.find("version");
    let screen = answer.out.find("screen").ok_or(missing("<screen>"))?;
    let number = |e: &Element, name| e.get(name).and_then(|v| v.parse::<u32>().ok());
    Ok(DeviceInfo {
        id: device.get("id").unwrap_or_default().to_owned(),
        model: device.get("model").unwrap_or_default().to_owned(),
        name: device.get("name").unwrap_or_default().to_owned(),
        app_version: version
            .and_then(|v| v.get("app"))
            .unwrap_or_default()
            .to_owned(),
        width: number(screen, "width").ok_or(missing("screen width"))?,
        height: number(screen, "height").ok_or(missing("screen height"))?,
    })
}

/// A file the card holds (`GetFiles`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    /// Its name.
    pub name: String,
    /// Its MD5, lower-case hex.
    pub md5_hex: String,
    /// Its size.
    pub size: u64,
    /// Bytes present (less than `size` while incomplete).
    pub exist_size: u64,
}

/// Reads a `GetFiles` answer.
pub fn files(answer: &Answer) -> Vec<StoredFile> {
    let mut found = Vec::new();
    answer.out.descendants("file", &mut found);
    found
        .into_iter()
        .map(|f| {
            let size = f.get("size").and_then(|s| s.parse().ok()).unwrap_or(0);
            StoredFile {
                name: f.get("name").unwrap_or_default().to_owned(),
                md5_hex: f.get("md5").unwrap_or_default().to_ascii_lowercase(),
                size,
                exist_size: f
                    .get("existSize")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(size),
            }
        })
        .collect()
}

/// Reads a `GetLuminancePloy` answer.
pub fn luminance(answer: &Answer) -> Result<Luminance, AnswerError> {
    let missing = |what| AnswerError::Missing {
        method: "GetLuminancePloy",
        what,
    };
    let out = &answer.out;
    let mode = out
        .find("mode")
        .and_then(|m| m.get("value"))
        .and_then(LuminanceMode::parse)
        .ok_or(missing("<mode value>"))?;
    let num = |e: Option<&Element>, name: &str| -> Option<u8> { e?.get(name)?.parse().ok() };
    let sensor = out.find("sensor");
    let items = out
        .find("ploy")
        .map(|p| {
            p.find_all("item")
                .filter_map(|i| {
                    Some(LuminanceItem {
                        enable: i.get("enable") == Some("true"),
                        start: i.get("start")?.to_owned(),
                        percent: i.get("percent")?.parse().ok()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Luminance {
        mode,
        default_percent: num(out.find("default"), "value").unwrap_or(100),
        sensor_min: num(sensor, "min").unwrap_or(1),
        sensor_max: num(sensor, "max").unwrap_or(100),
        sensor_seconds: num(sensor, "time").unwrap_or(5),
        items,
    })
}

/// Reads a `GetCurrentPlayProgramGUID` answer.
pub fn current_program(answer: &Answer) -> Option<String> {
    answer
        .out
        .find("program")
        .and_then(|p| p.get("guid"))
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
}

/// Reads a `GetScreenshot2` answer: the JPEG bytes.
pub fn screenshot(answer: &Answer) -> Result<Vec<u8>, AnswerError> {
    let data =
        answer
            .out
            .find("image")
            .and_then(|i| i.get("data"))
            .ok_or(AnswerError::Missing {
                method: "GetScreenshot2",
                what: "<image data>",
            })?;
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| AnswerError::Base64(e.to_string()))
}

/// Encodes screenshot bytes as the card does (base64).
pub fn encode_screenshot(jpeg: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(jpeg)
}
