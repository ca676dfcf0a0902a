//! Display sinks behind one trait, and the [`Screen`] that turns what the
//! player shows into frames for the sink (and keeps the last frame for
//! screenshots: a screenshot is exactly what the sink was given).
//!
//! Sinks: `png` (the current frame as a PNG file, written atomically), `fbdev`
//! (the LED canvas drawn 1:1 at an offset into a framebuffer device or a
//! regular file standing in for one, [`fbdev`]), `none`; video slots go to
//! an `mpv` subprocess, which the screen watches: [`Screen::video_exited`]
//! says when it died, so the driver can end the record and show a fallback.
//! A sink whose device is missing fails each frame; [`Screen::display_missing`]
//! says why and [`Screen::retry_display`] tries again.
//! This module does not decide what to show (the player does) nor read the
//! cache (the driver passes bytes in).

pub mod fbdev;
pub mod font;
pub mod render;

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use image::{ImageEncoder, RgbImage};
use ledcast_protocol::v1::{Sha256, SlotKind, Timestamp};

use crate::config::{DisplayConfig, SinkKind};
use crate::player::{builtin, Content, Showing};

pub use fbdev::{FbGeometry, FbdevSink};

/// Where frames go.
pub trait Display {
    /// Puts a frame of the canvas size on the device.
    fn show(&mut self, frame: &RgbImage) -> io::Result<()>;

    /// Tries again to open a device that was missing or failed (sinks
    /// without a device always succeed).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes each frame to a PNG file (temp file + rename, so readers never see
/// half a frame).
#[derive(Debug)]
pub struct PngSink {
    /// The output file.
    path: PathBuf,
}

impl PngSink {
    /// A sink writing to `path`.
    pub fn new(path: &Path) -> PngSink {
        PngSink {
            path: path.to_owned(),
        }
    }
}

impl Display for PngSink {
    fn show(&mut self, frame: &RgbImage) -> io::Result<()> {
        let png = encode_png(frame)?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let temp = dir.join(format!(
            ".{}.tmp",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        fs::write(&temp, png)?;
        fs::rename(&temp, &self.path)
    }
}

/// Discards frames.
#[derive(Debug, Default)]
pub struct NullSink;

impl Display for NullSink {
    fn show(&mut self, _frame: &RgbImage) -> io::Result<()> {
        Ok(())
    }
}

/// Encodes a frame as PNG.
pub fn encode_png(frame: &RgbImage) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            frame.as_raw(),
            frame.width(),
            frame.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(io::Error::other)?;
    Ok(out)
}

/// Whether an executable named `name` is on PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// mpv's command line for one video slot: quiet, looping the file for as
/// long as the slot lasts (the agent stops it), the picture stretched to the
/// LED canvas and placed at the capture offset. On a console (`--vo=drm`
/// and friends: no windows) the place is given as margins of the whole
/// output when its size is known; under a desktop as a window geometry.
/// Below 100 % brightness every channel is scaled by a filter, as frames are.
pub fn mpv_args(
    options: &[String],
    (width, height): (u32, u32),
    (x, y): (u32, u32),
    output_size: Option<(u32, u32)>,
    brightness_percent: u8,
    path: &Path,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "--no-terminal",
        "--really-quiet",
        "--no-input-default-bindings",
        "--loop-file=inf",
        "--keepaspect=no",
        "--no-osc",
        "--osd-level=0",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.extend(options.iter().map(Into::into));
    if brightness_percent < 100 {
        let gain = format!("{:.2}", f64::from(brightness_percent) / 100.0);
        args.push(
            format!("--vf-add=lavfi=[colorchannelmixer=rr={gain}:gg={gain}:bb={gain}]").into(),
        );
    }
    let console = options
        .iter()
        .any(|o| o == "--vo=drm" || o.starts_with("--gpu-context=drm"));
    match output_size {
        Some((out_w, out_h)) if console && out_w > 0 && out_h > 0 => {
            let ratio =
                |margin: u32, total: u32| format!("{:.6}", f64::from(margin) / f64::from(total));
            let right = out_w.saturating_sub(x + width);
            let bottom = out_h.saturating_sub(y + height);
            args.push(format!("--video-margin-ratio-left={}", ratio(x, out_w)).into());
            args.push(format!("--video-margin-ratio-right={}", ratio(right, out_w)).into());
            args.push(format!("--video-margin-ratio-top={}", ratio(y, out_h)).into());
            args.push(format!("--video-margin-ratio-bottom={}", ratio(bottom, out_h)).into());
        }
        _ => {
            args.push("--no-border".into());
            args.push(format!("--geometry={width}x{height}+{x}+{y}").into());
        }
    }
    args.push("--".into());
    args.push(path.into());
    args
}

/// What the screen is drawing now.
#[derive(Debug)]
enum Prepared {
    /// A fixed frame.
    Still,
    /// A strip moving over time.
    Scroll {
        /// The strip, at canvas height.
        strip: Arc<RgbImage>,
        /// Speed.
        px_per_second: u32,
        /// Phase origin.
        slot_started_at: Timestamp,
    },
    /// An mpv subprocess plays it.
    Video,
}

/// Why media could not be shown (the caller shows a fallback frame).
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// The verified bytes do not decode as an image.
    #[error("media does not decode as PNG: {0}")]
    Decode(String),
    /// The video player could not be started.
    #[error("cannot start the video player {path}: {error}")]
    Video {
        /// The player binary.
        path: String,
        /// What went wrong.
        error: String,
    },
    /// The sink failed (the display device is missing or failing).
    #[error("display sink failed: {0}")]
    Sink(#[from] io::Error),
}

/// The canvas: one sink, the item being drawn, the last frame.
pub struct Screen {
    /// The sink.
    sink: Box<dyn Display + Send>,
    /// Canvas width.
    width: u32,
    /// Canvas height.
    height: u32,
    /// Frame interval while scrolling.
    min_frame_ms: u64,
    /// What is being drawn.
    prepared: Option<Prepared>,
    /// The last frame given to the sink (shared with the decoded cache for
    /// stills, so showing a cached still copies nothing).
    last_frame: Option<Arc<RgbImage>>,
    /// Decoded media kept for the next time it is shown, newest last.
    decoded: VecDeque<(Sha256, Arc<RgbImage>)>,
    /// The most bytes `decoded` may hold (0: decode every time).
    decoded_max_bytes: usize,
    /// The mpv binary, when video is enabled and found.
    mpv: Option<PathBuf>,
    /// mpv's output and decoding options.
    mpv_options: Vec<String>,
    /// The running mpv.
    video: Option<Child>,
    /// The fbdev offset, to place mpv's picture.
    video_offset: (u32, u32),
    /// The whole output's size when known (fbdev), to place mpv's picture
    /// by margins on a console; else mpv gets a window `--geometry`.
    output_size: Option<(u32, u32)>,
    /// Why the display device is unusable, while it is.
    display_error: Option<String>,
    /// Percent of full brightness every frame is drawn at (0: off, black).
    brightness: u8,
    /// The frame on screen before dimming, to redraw it when the
    /// brightness changes (the same `Arc` as `last_frame` at 100 %).
    undimmed: Option<Arc<RgbImage>>,
}

impl Screen {
    /// Builds the configured sink. `data_dir` anchors the PNG path.
    pub fn from_config(config: &DisplayConfig, png_path: &Path) -> io::Result<Screen> {
        let mut display_error = None;
        let mut output_size = None;
        let sink: Box<dyn Display + Send> = match config.sink {
            // A bridge's card draws the panel; the PNG is the agent's own
            // view of what the card should show (crate::bridge uploads).
            SinkKind::Png | SinkKind::Bridge => Box::new(PngSink::new(png_path)),
            SinkKind::Fbdev => {
                let sink = FbdevSink::open(&config.fbdev);
                display_error = sink.missing().map(str::to_owned);
                output_size = sink.geometry().map(|g| (g.width_px, g.height_px));
                Box::new(sink)
            }
            SinkKind::None => Box::new(NullSink),
        };
        let mpv = if config.video_with_mpv {
            match &config.mpv_path {
                Some(path) => Some(path.clone()),
                None => on_path("mpv"),
            }
        } else {
            None
        };
        let mut screen = Screen::new(sink, config.width_px, config.height_px, config.max_fps);
        screen.mpv = mpv;
        screen.mpv_options = config.mpv_options.clone();
        screen.video_offset = (config.fbdev.x_offset_px, config.fbdev.y_offset_px);
        screen.output_size = output_size;
        screen.display_error = display_error;
        Ok(screen)
    }

    /// A screen over any sink.
    pub fn new(sink: Box<dyn Display + Send>, width: u32, height: u32, max_fps: u32) -> Screen {
        Screen {
            sink,
            width: width.max(1),
            height: height.max(1),
            min_frame_ms: 1000 / u64::from(max_fps.max(1)),
            prepared: None,
            last_frame: None,
            decoded: VecDeque::new(),
            decoded_max_bytes: 0,
            mpv: None,
            mpv_options: Vec::new(),
            video: None,
            video_offset: (0, 0),
            output_size: None,
            display_error: None,
            brightness: 100,
            undimmed: None,
        }
    }

    /// Keeps up to `max_bytes` of decoded stills and strips, so a loop that
    /// comes round again neither decodes nor copies them. Off by default:
    /// a controller's memory budget holds one frame of a full-HD wall.
    pub fn with_decoded_cache(mut self, max_bytes: usize) -> Screen {
        self.decoded_max_bytes = max_bytes;
        self
    }

    /// The decoded image of `media`, from the cache or from `bytes`, at the
    /// canvas size (stills) or height (strips).
    fn decode(
        &mut self,
        media: Sha256,
        bytes: Option<&[u8]>,
        strip: bool,
    ) -> Result<Arc<RgbImage>, ShowError> {
        if let Some(at) = self.decoded.iter().position(|(m, _)| *m == media) {
            if let Some(entry) = self.decoded.remove(at) {
                let image = entry.1.clone();
                self.decoded.push_back(entry);
                return Ok(image);
            }
        }
        let bytes = bytes.ok_or_else(|| ShowError::Decode("no bytes".to_owned()))?;
        // The previous frame goes before the next is decoded, so a
        // full-HD wall holds one frame at a time, not two.
        self.last_frame = None;
        self.undimmed = None;
        let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
            .map_err(|e| ShowError::Decode(e.to_string()))?
            .into_rgb8();
        let image = Arc::new(if strip {
            render::fit_height(image, self.height)
        } else {
            render::fit(image, self.width, self.height)
        });
        let size = image.as_raw().len();
        if size <= self.decoded_max_bytes {
            let mut held: usize = self.decoded.iter().map(|(_, i)| i.as_raw().len()).sum();
            while held + size > self.decoded_max_bytes {
                match self.decoded.pop_front() {
                    Some((_, old)) => held -= old.as_raw().len(),
                    None => break,
                }
            }
            self.decoded.push_back((media, image.clone()));
        }
        Ok(image)
    }

    /// Whether video slots can play.
    pub fn video_supported(&self) -> bool {
        self.mpv.is_some()
    }

    /// Starts showing `showing`. `media` is the verified bytes (stills and
    /// scrolls) and `media_path` the cached file (videos).
    pub fn show(
        &mut self,
        showing: &Showing,
        media: Option<&[u8]>,
        media_path: Option<&Path>,
        now: Timestamp,
    ) -> Result<(), ShowError> {
        self.stop_video();
        let elapsed = now.millis_since(showing.slot_started_at).max(0) as u64;
        match &showing.content {
            Content::Builtin { index } => {
                let text = builtin::MESSAGES[*index % builtin::MESSAGES.len()];
                self.show_text(text, render::RED, showing.slot_started_at, elapsed)
            }
            Content::Identify { text } => {
                self.show_text(text, render::GREEN, showing.slot_started_at, elapsed)
            }
            Content::Media {
                kind: SlotKind::Video,
                ..
            } => match (&self.mpv, media_path) {
                (Some(mpv), Some(path)) => {
                    let args = mpv_args(
                        &self.mpv_options,
                        (self.width, self.height),
                        self.video_offset,
                        self.output_size,
                        self.brightness,
                        path,
                    );
                    let child = Command::new(mpv)
                        .args(args)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .map_err(|e| ShowError::Video {
                            path: mpv.display().to_string(),
                            error: e.to_string(),
                        })?;
                    self.video = Some(child);
                    self.prepared = Some(Prepared::Video);
                    Ok(())
                }
                _ => Err(ShowError::Decode("no video sink".to_owned())),
            },
            Content::Media {
                kind,
                media: address,
            } => match kind {
                SlotKind::Scroll { px_per_second } => {
                    let strip = self.decode(*address, media, true)?;
                    let frame = render::scroll_window(
                        &strip,
                        self.width,
                        self.height,
                        *px_per_second,
                        elapsed,
                    );
                    self.prepared = Some(Prepared::Scroll {
                        strip,
                        px_per_second: *px_per_second,
                        slot_started_at: showing.slot_started_at,
                    });
                    self.put(Arc::new(frame))
                }
                _ => {
                    let frame = self.decode(*address, media, false)?;
                    self.prepared = Some(Prepared::Still);
                    self.put(frame)
                }
            },
        }
    }

    /// Shows a built-in warning frame (used when media fails to decode).
    pub fn show_builtin(&mut self, index: usize, now: Timestamp) -> Result<(), ShowError> {
        self.stop_video();
        let text = builtin::MESSAGES[index % builtin::MESSAGES.len()];
        self.show_text(text, render::RED, now, 0)
    }

    fn show_text(
        &mut self,
        text: &str,
        color: image::Rgb<u8>,
        slot_started_at: Timestamp,
        elapsed: u64,
    ) -> Result<(), ShowError> {
        // Text that does not fit becomes a strip drawn once and scrolled
        // like a scroll slot (no glyph work per frame).
        if render::text_scrolls(text, self.width, self.height) {
            let strip = render::text_strip(text, self.height, color);
            let px_per_second = render::builtin_scroll_px_per_second(text, self.height);
            let frame =
                render::scroll_window(&strip, self.width, self.height, px_per_second, elapsed);
            self.prepared = Some(Prepared::Scroll {
                strip: Arc::new(strip),
                px_per_second,
                slot_started_at,
            });
            return self.put(Arc::new(frame));
        }
        self.prepared = Some(Prepared::Still);
        let frame = render::text_frame(text, self.width, self.height, color, elapsed);
        self.put(Arc::new(frame))
    }

    fn put(&mut self, frame: Arc<RgbImage>) -> Result<(), ShowError> {
        let shown = if self.brightness < 100 {
            Arc::new(render::dim(&frame, self.brightness))
        } else {
            frame.clone()
        };
        self.undimmed = Some(frame);
        if let Err(e) = self.sink.show(&shown) {
            self.display_error = Some(e.to_string());
            return Err(e.into());
        }
        self.last_frame = Some(shown);
        Ok(())
    }

    /// Draws everything from now on at `percent` of full brightness, and
    /// redraws the frame on screen at it (a scroll's next frame follows).
    /// 0 switches the panel off: any video stops and the frame is black.
    /// A running video keeps the level it started with until its slot ends.
    pub fn set_brightness(&mut self, percent: u8) -> Result<(), ShowError> {
        let percent = percent.min(100);
        if percent == self.brightness {
            return Ok(());
        }
        self.brightness = percent;
        if percent == 0 {
            self.stop_video();
            self.prepared = None;
            return self.put(Arc::new(RgbImage::new(self.width, self.height)));
        }
        match self.undimmed.clone() {
            Some(frame) if !matches!(self.prepared, Some(Prepared::Video)) => self.put(frame),
            _ => Ok(()),
        }
    }

    /// Percent of full brightness frames are drawn at.
    pub fn brightness(&self) -> u8 {
        self.brightness
    }

    /// Why the display device is unusable (nothing reaches the glass), if it is.
    pub fn display_missing(&self) -> Option<&str> {
        self.display_error.as_deref()
    }

    /// Tries to open a missing display device again; true when it works.
    pub fn retry_display(&mut self) -> bool {
        match self.sink.reopen() {
            Ok(()) => {
                self.display_error = None;
                true
            }
            Err(e) => {
                self.display_error = Some(e.to_string());
                false
            }
        }
    }

    /// Whether a video player is running (the driver checks it often).
    pub fn video_running(&self) -> bool {
        self.video.is_some()
    }

    /// If the video player has exited (crashed, killed, could not open its
    /// output): how. It loops its file forever, so any exit is a failure.
    pub fn video_exited(&mut self) -> Option<String> {
        let child = self.video.as_mut()?;
        let how = match child.try_wait() {
            Ok(None) => return None,
            Ok(Some(status)) => format!("video player exited ({status})"),
            Err(e) => format!("video player lost: {e}"),
        };
        self.video = None;
        self.prepared = None;
        Some(how)
    }

    /// When the next frame of a scroll is due.
    pub fn next_frame_at(&self, now: Timestamp) -> Option<Timestamp> {
        match self.prepared {
            Some(Prepared::Scroll { .. }) => Some(now.plus_ms(self.min_frame_ms as i64)),
            _ => None,
        }
    }

    /// Draws the next frame of a scroll (no-op otherwise).
    pub fn tick(&mut self, now: Timestamp) -> Result<(), ShowError> {
        let frame = match &self.prepared {
            Some(Prepared::Scroll {
                strip,
                px_per_second,
                slot_started_at,
            }) => {
                let elapsed = now.millis_since(*slot_started_at).max(0) as u64;
                render::scroll_window(strip, self.width, self.height, *px_per_second, elapsed)
            }
            _ => return Ok(()),
        };
        self.put(Arc::new(frame))
    }

    /// The last frame given to the sink (what the panel shows now).
    pub fn last_frame(&self) -> Option<&Arc<RgbImage>> {
        self.last_frame.as_ref()
    }

    /// Whether a scroll is on screen (frames change with time).
    pub fn is_scrolling(&self) -> bool {
        matches!(self.prepared, Some(Prepared::Scroll { .. }))
    }

    /// The last frame as PNG (what a screenshot uploads).
    pub fn screenshot_png(&self) -> Option<io::Result<Vec<u8>>> {
        self.last_frame.as_deref().map(encode_png)
    }

    /// Stops any video subprocess.
    pub fn stop_video(&mut self) {
        if let Some(mut child) = self.video.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.stop_video();
    }
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("video", &self.mpv.is_some())
            .field("display_error", &self.display_error)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpv_is_placed_on_the_capture_area_by_margins_on_a_console_and_by_geometry_on_a_desktop() {
        let path = Path::new("/cache/media/abc");
        let strings = |args: Vec<std::ffi::OsString>| -> Vec<String> {
            args.into_iter().map(|a| a.into_string().unwrap()).collect()
        };
        let console = strings(mpv_args(
            &crate::config::default_mpv_options(),
            (352, 80),
            (100, 40),
            Some((1920, 1080)),
            100,
            path,
        ));
        for expected in [
            "--vo=drm",
            "--hwdec=auto",
            "--no-audio",
            "--loop-file=inf",
            "--keepaspect=no",
            "--video-margin-ratio-left=0.052083",
            "--video-margin-ratio-right=0.764583",
            "--video-margin-ratio-top=0.037037",
            "--video-margin-ratio-bottom=0.888889",
        ] {
            assert!(
                console.iter().any(|a| a == expected),
                "{expected} in {console:?}"
            );
        }
        assert_eq!(&console[console.len() - 2..], ["--", "/cache/media/abc"]);
        let desktop = strings(mpv_args(
            &["--vo=gpu".to_owned()],
            (352, 80),
            (100, 40),
            Some((1920, 1080)),
            30,
            path,
        ));
        assert!(
            desktop.iter().any(|a| a == "--geometry=352x80+100+40"),
            "{desktop:?}"
        );
        assert!(!desktop.iter().any(|a| a.starts_with("--video-margin")));
        assert!(
            desktop
                .iter()
                .any(|a| a == "--vf-add=lavfi=[colorchannelmixer=rr=0.30:gg=0.30:bb=0.30]"),
            "a dimmed video is scaled like a frame: {desktop:?}"
        );
        assert!(!console.iter().any(|a| a.starts_with("--vf-add")));
    }

    /// Keeps every frame it is given.
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<RgbImage>>>);

    impl Display for Capture {
        fn show(&mut self, frame: &RgbImage) -> io::Result<()> {
            self.0.lock().unwrap().push(frame.clone());
            Ok(())
        }
    }

    #[test]
    fn a_scroll_slot_moves_with_wall_time_at_its_speed() {
        let frames = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut screen = Screen::new(Box::new(Capture(frames.clone())), 64, 8, 10);
        // A 200 px strip with one lit column at x = 0.
        let mut strip = RgbImage::new(200, 8);
        for y in 0..8 {
            strip.put_pixel(0, y, image::Rgb([255, 255, 0]));
        }
        let png = encode_png(&strip).unwrap();
        let showing = Showing {
            content: Content::Media {
                media: ledcast_protocol::v1::Sha256([3; 32]),
                kind: SlotKind::Scroll { px_per_second: 16 },
            },
            seq: 1,
            slot_started_at: Timestamp(1_000),
            started_at: Timestamp(2_000),
            ends_at: Timestamp(20_000),
            fallback: false,
            material_id: "strip".into(),
            rotation_version: Some(1),
            is_warning: true,
        };
        // Shown 1 s into its slot: the strip's first column started on the
        // rightmost column (63) and moved 16 px.
        screen
            .show(&showing, Some(&png), None, Timestamp(2_000))
            .unwrap();
        assert_eq!(
            screen.next_frame_at(Timestamp(2_000)),
            Some(Timestamp(2_100))
        );
        screen.tick(Timestamp(3_000)).unwrap();
        let frames = frames.lock().unwrap();
        let lit_column =
            |f: &RgbImage| (0..f.width()).find(|&x| f.get_pixel(x, 4).0 == [255, 255, 0]);
        assert_eq!(lit_column(&frames[0]), Some(63 - 16));
        assert_eq!(lit_column(&frames[1]), Some(63 - 32));
    }

    #[test]
    fn png_sink_writes_the_frame_and_screenshots_are_that_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frame.png");
        let mut screen = Screen::new(Box::new(PngSink::new(&path)), 352, 80, 10);
        let showing = Showing {
            content: Content::Builtin { index: 1 },
            seq: 1,
            slot_started_at: Timestamp(0),
            started_at: Timestamp(0),
            ends_at: Timestamp(10_000),
            fallback: true,
            material_id: "builtin:1".into(),
            rotation_version: None,
            is_warning: true,
        };
        screen.show(&showing, None, None, Timestamp(0)).unwrap();
        let written = fs::read(&path).unwrap();
        let decoded = image::load_from_memory(&written).unwrap().to_rgb8();
        assert_eq!((decoded.width(), decoded.height()), (352, 80));
        assert!(decoded.pixels().any(|p| p.0 == [255, 0, 0]));
        assert_eq!(screen.screenshot_png().unwrap().unwrap(), written);
    }
}
