//! Display sinks behind one trait, and the [`Screen`] that turns what the
//! player shows into frames for the sink (and keeps the last frame for
//! screenshots: a screenshot is exactly what the sink was given).
//!
//! Sinks: `png` (the current frame as a PNG file, written atomically), `fbdev`
//! (the LED canvas drawn 1:1 at an offset into a framebuffer device or a
//! regular file standing in for one), `none`; video slots go to an `mpv`
//! subprocess when `mpv` is on PATH. This module does not decide what to show
//! (the player does) nor read the cache (the driver passes bytes in).

pub mod font;
pub mod render;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use image::{ImageEncoder, RgbImage};
use ledcast_protocol::v1::{Sha256, SlotKind, Timestamp};

use crate::config::{DisplayConfig, FbdevConfig, SinkKind};
use crate::player::{builtin, Content, Showing};

/// Where frames go.
pub trait Display {
    /// Puts a frame of the canvas size on the device.
    fn show(&mut self, frame: &RgbImage) -> io::Result<()>;
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

/// Draws the canvas into a framebuffer (`/dev/fb0` or a regular file of the
/// same layout) at a fixed offset, clipped to the framebuffer.
#[derive(Debug)]
pub struct FbdevSink {
    /// Geometry and offset.
    config: FbdevConfig,
    /// The open device.
    file: File,
}

impl FbdevSink {
    /// Opens the device (it must exist).
    pub fn open(config: &FbdevConfig) -> io::Result<FbdevSink> {
        if config.bytes_per_pixel != 2 && config.bytes_per_pixel != 4 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "display.fbdev.bytes_per_pixel must be 2 (RGB565) or 4 (XRGB8888)",
            ));
        }
        let file = OpenOptions::new().write(true).open(&config.path)?;
        Ok(FbdevSink {
            config: config.clone(),
            file,
        })
    }
}

impl Display for FbdevSink {
    fn show(&mut self, frame: &RgbImage) -> io::Result<()> {
        let c = &self.config;
        let bpp = u64::from(c.bytes_per_pixel);
        if c.x_offset_px >= c.fb_width_px {
            return Ok(());
        }
        let visible_width = frame.width().min(c.fb_width_px - c.x_offset_px);
        let mut row = Vec::with_capacity(visible_width as usize * bpp as usize);
        for y in 0..frame.height() {
            let fb_y = c.y_offset_px + y;
            if fb_y >= c.fb_height_px {
                break;
            }
            row.clear();
            for x in 0..visible_width {
                let [r, g, b] = frame.get_pixel(x, y).0;
                if bpp == 4 {
                    row.extend_from_slice(&[b, g, r, 0xFF]);
                } else {
                    let v: u16 =
                        (u16::from(r >> 3) << 11) | (u16::from(g >> 2) << 5) | u16::from(b >> 3);
                    row.extend_from_slice(&v.to_le_bytes());
                }
            }
            let offset =
                (u64::from(fb_y) * u64::from(c.fb_width_px) + u64::from(c.x_offset_px)) * bpp;
            self.file.write_all_at(&row, offset)?;
        }
        Ok(())
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
    /// The sink failed.
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
    /// The running mpv.
    video: Option<Child>,
    /// The fbdev offset, to place mpv's window.
    video_offset: (u32, u32),
}

impl Screen {
    /// Builds the configured sink. `data_dir` anchors the PNG path.
    pub fn from_config(config: &DisplayConfig, png_path: &Path) -> io::Result<Screen> {
        let sink: Box<dyn Display + Send> = match config.sink {
            // A bridge's card draws the panel; the PNG is the agent's own
            // view of what the card should show (crate::bridge uploads).
            SinkKind::Png | SinkKind::Bridge => Box::new(PngSink::new(png_path)),
            SinkKind::Fbdev => Box::new(FbdevSink::open(&config.fbdev)?),
            SinkKind::None => Box::new(NullSink),
        };
        let mpv = if config.video_with_mpv {
            on_path("mpv")
        } else {
            None
        };
        let mut screen = Screen::new(sink, config.width_px, config.height_px, config.max_fps);
        screen.mpv = mpv;
        screen.video_offset = (config.fbdev.x_offset_px, config.fbdev.y_offset_px);
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
            video: None,
            video_offset: (0, 0),
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
                    let (x, y) = self.video_offset;
                    let child = Command::new(mpv)
                        .arg("--no-terminal")
                        .arg("--really-quiet")
                        .arg("--loop-file=inf")
                        .arg("--no-border")
                        .arg(format!("--geometry={}x{}+{x}+{y}", self.width, self.height))
                        .arg(path)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()?;
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
        self.sink.show(&frame)?;
        self.last_frame = Some(frame);
        Ok(())
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
            .finish()
    }
}

/// Writes bytes into a framebuffer file at `offset` (for tests of the layout).
pub fn read_fb_pixel(
    path: &Path,
    fb_width: u32,
    bytes_per_pixel: u8,
    x: u32,
    y: u32,
) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let mut buf = vec![0u8; bytes_per_pixel as usize];
    let offset = (u64::from(y) * u64::from(fb_width) + u64::from(x)) * u64::from(bytes_per_pixel);
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fbdev_draws_the_canvas_one_to_one_at_its_offset_into_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fb0");
        let (fb_w, fb_h) = (64u32, 32u32);
        fs::write(&path, vec![0u8; (fb_w * fb_h * 4) as usize]).unwrap();
        let config = FbdevConfig {
            path: path.clone(),
            fb_width_px: fb_w,
            fb_height_px: fb_h,
            bytes_per_pixel: 4,
            x_offset_px: 10,
            y_offset_px: 5,
        };
        let mut sink = FbdevSink::open(&config).unwrap();
        let mut frame = RgbImage::new(60, 40); // larger than what fits: clipped
        frame.put_pixel(0, 0, image::Rgb([255, 0, 0]));
        frame.put_pixel(3, 2, image::Rgb([0, 0, 255]));
        sink.show(&frame).unwrap();
        assert_eq!(
            read_fb_pixel(&path, fb_w, 4, 10, 5).unwrap(),
            vec![0, 0, 255, 255]
        );
        assert_eq!(
            read_fb_pixel(&path, fb_w, 4, 13, 7).unwrap(),
            vec![255, 0, 0, 255]
        );
        assert_eq!(
            read_fb_pixel(&path, fb_w, 4, 9, 5).unwrap(),
            vec![0, 0, 0, 0]
        );
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            u64::from(fb_w * fb_h * 4),
            "never grows"
        );
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
