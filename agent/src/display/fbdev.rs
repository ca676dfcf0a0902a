//! The `fbdev` sink: the LED canvas drawn 1:1 into a Linux framebuffer at
//! the sending card's capture offset, in the framebuffer's own layout.
//!
//! The layout (visible size, bits per pixel, where each colour sits in a
//! pixel, bytes per row including padding, the panned start) comes from the
//! kernel (`FBIOGET_VSCREENINFO` / `FBIOGET_FSCREENINFO`, through the
//! `framebuffer` crate) and is kept as a plain [`FbGeometry`] value, so a
//! test can draw into a regular file with any layout it chooses. A regular
//! file named as the device (it cannot answer ioctls) gets the layout the
//! config describes. While the device is missing or failing the sink says
//! so on every frame and [`Display::reopen`] tries again; the driver turns
//! that into `display_missing` and journals nothing as played. On a real
//! device the console is put in graphics mode so its cursor and blanking
//! stay off the LED area.
//!
//! It does not scale, convert colour classes or decide what to show.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::{Path, PathBuf};

use image::RgbImage;
use tracing::{info, warn};

use super::Display;
use crate::config::FbdevConfig;

/// Where one colour sits in a pixel value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Lowest bit of the colour.
    pub offset: u32,
    /// How many bits it has (0: absent).
    pub length: u32,
}

/// A framebuffer's memory layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FbGeometry {
    /// Visible width in pixels (`xres`).
    pub width_px: u32,
    /// Visible height in pixels (`yres`).
    pub height_px: u32,
    /// Bits per pixel: 16, 24 or 32.
    pub bits_per_pixel: u32,
    /// Bytes from one row to the next (`line_length`; rows may be padded).
    pub line_length_bytes: u32,
    /// Red bits.
    pub red: Channel,
    /// Green bits.
    pub green: Channel,
    /// Blue bits.
    pub blue: Channel,
    /// Alpha bits (written fully opaque), if any.
    pub alpha: Channel,
    /// Byte offset of the visible area's top-left pixel (panning).
    pub start_byte: u64,
}

impl FbGeometry {
    /// The layout a regular file standing in for a device is taken to have:
    /// unpadded rows, XRGB8888 (4 bytes) or RGB565 (2 bytes).
    pub fn assumed(width_px: u32, height_px: u32, bytes_per_pixel: u8) -> FbGeometry {
        let (red, green, blue, alpha) = if bytes_per_pixel == 2 {
            (
                Channel {
                    offset: 11,
                    length: 5,
                },
                Channel {
                    offset: 5,
                    length: 6,
                },
                Channel {
                    offset: 0,
                    length: 5,
                },
                Channel {
                    offset: 0,
                    length: 0,
                },
            )
        } else {
            (
                Channel {
                    offset: 16,
                    length: 8,
                },
                Channel {
                    offset: 8,
                    length: 8,
                },
                Channel {
                    offset: 0,
                    length: 8,
                },
                Channel {
                    offset: 24,
                    length: 8,
                },
            )
        };
        FbGeometry {
            width_px,
            height_px,
            bits_per_pixel: u32::from(bytes_per_pixel) * 8,
            line_length_bytes: width_px * u32::from(bytes_per_pixel),
            red,
            green,
            blue,
            alpha,
            start_byte: 0,
        }
    }

    /// Asks the kernel for the layout of an open framebuffer device.
    pub fn query(device: &File) -> io::Result<FbGeometry> {
        let var = framebuffer::Framebuffer::get_var_screeninfo(device)
            .map_err(|e| io::Error::other(format!("FBIOGET_VSCREENINFO: {e}")))?;
        let fix = framebuffer::Framebuffer::get_fix_screeninfo(device)
            .map_err(|e| io::Error::other(format!("FBIOGET_FSCREENINFO: {e}")))?;
        let channel = |b: &framebuffer::Bitfield| Channel {
            offset: b.offset,
            length: b.length,
        };
        let geometry = FbGeometry {
            width_px: var.xres,
            height_px: var.yres,
            bits_per_pixel: var.bits_per_pixel,
            line_length_bytes: fix.line_length,
            red: channel(&var.red),
            green: channel(&var.green),
            blue: channel(&var.blue),
            alpha: channel(&var.transp),
            start_byte: u64::from(var.yoffset) * u64::from(fix.line_length)
                + u64::from(var.xoffset) * u64::from(var.bits_per_pixel / 8),
        };
        geometry.check()?;
        Ok(geometry)
    }

    /// Refuses layouts this sink cannot draw (palette modes, rows shorter
    /// than the width, colours outside the pixel).
    pub fn check(&self) -> io::Result<()> {
        let bad = |what: String| Err(io::Error::new(io::ErrorKind::InvalidInput, what));
        if !matches!(self.bits_per_pixel, 16 | 24 | 32) {
            return bad(format!(
                "framebuffer has {} bits per pixel; 16, 24 or 32 are supported (set the console to a true-colour mode, e.g. video=...-32 on the kernel command line)",
                self.bits_per_pixel
            ));
        }
        if u64::from(self.line_length_bytes)
            < u64::from(self.width_px) * u64::from(self.bytes_per_pixel())
        {
            return bad(format!(
                "framebuffer rows of {} bytes are shorter than {} pixels",
                self.line_length_bytes, self.width_px
            ));
        }
        for (name, c) in [
            ("red", self.red),
            ("green", self.green),
            ("blue", self.blue),
            ("alpha", self.alpha),
        ] {
            let colour = name != "alpha";
            if (colour && c.length == 0)
                || c.length > 8
                || c.offset + c.length > self.bits_per_pixel
            {
                return bad(format!(
                    "framebuffer {name} channel (offset {}, length {}) does not fit a {}-bit pixel",
                    c.offset, c.length, self.bits_per_pixel
                ));
            }
        }
        Ok(())
    }

    /// Bytes per pixel.
    pub fn bytes_per_pixel(&self) -> u32 {
        self.bits_per_pixel / 8
    }

    /// Byte offset of pixel `(x, y)` of the visible area.
    pub fn offset_of(&self, x: u32, y: u32) -> u64 {
        self.start_byte
            + u64::from(y) * u64::from(self.line_length_bytes)
            + u64::from(x) * u64::from(self.bytes_per_pixel())
    }

    /// Appends one pixel in this layout (little-endian, as fbdev stores it).
    pub fn push_pixel(&self, [r, g, b]: [u8; 3], out: &mut Vec<u8>) {
        let place = |value: u8, c: Channel| -> u32 {
            if c.length == 0 {
                0
            } else {
                (u32::from(value) >> (8 - c.length)) << c.offset
            }
        };
        let alpha = if self.alpha.length == 0 {
            0
        } else {
            ((1u32 << self.alpha.length) - 1) << self.alpha.offset
        };
        let value = place(r, self.red) | place(g, self.green) | place(b, self.blue) | alpha;
        out.extend_from_slice(&value.to_le_bytes()[..self.bytes_per_pixel() as usize]);
    }
}

/// The open device and its layout.
#[derive(Debug)]
struct Open {
    /// The device (or regular file).
    file: File,
    /// Its layout.
    geometry: FbGeometry,
    /// The console put in graphics mode, to give back on drop.
    graphics: Option<Console>,
}

/// Which console the sink put in graphics mode.
#[derive(Debug)]
enum Console {
    /// The service's own terminal (stdin; `TTYPath=` in the unit).
    Stdin,
    /// A tty device opened by path (needs read access to it).
    Path(PathBuf),
}

/// Draws the canvas into a framebuffer at the capture offset, clipped to
/// the visible area.
#[derive(Debug)]
pub struct FbdevSink {
    /// Device, fallback layout for regular files, offset, console tty.
    config: FbdevConfig,
    /// The open device, or why it is not.
    device: Result<Open, String>,
    /// Whether the canvas-does-not-fit warning was logged.
    warned_clip: bool,
}

impl FbdevSink {
    /// Opens the device named in the config. A missing or unusable device
    /// is not an error here: every frame then fails with the reason until
    /// [`Display::reopen`] succeeds.
    pub fn open(config: &FbdevConfig) -> FbdevSink {
        let mut sink = FbdevSink {
            config: config.clone(),
            device: Err("not opened yet".to_owned()),
            warned_clip: false,
        };
        sink.device = sink.open_device().map_err(|e| e.to_string());
        sink
    }

    /// A sink over an open file whose layout the caller knows (tests: a
    /// regular file with padded rows; ioctls cannot be asked of it).
    pub fn with_geometry(
        file: File,
        geometry: FbGeometry,
        x_offset_px: u32,
        y_offset_px: u32,
    ) -> FbdevSink {
        FbdevSink {
            config: FbdevConfig {
                x_offset_px,
                y_offset_px,
                console_tty: None,
                ..FbdevConfig::default()
            },
            device: Ok(Open {
                file,
                geometry,
                graphics: None,
            }),
            warned_clip: false,
        }
    }

    /// Why the device is unusable, if it is.
    pub fn missing(&self) -> Option<&str> {
        self.device.as_ref().err().map(String::as_str)
    }

    /// The layout in use, once open.
    pub fn geometry(&self) -> Option<FbGeometry> {
        self.device.as_ref().ok().map(|open| open.geometry)
    }

    fn open_device(&self) -> io::Result<Open> {
        let path = &self.config.path;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let is_device = file.metadata()?.file_type().is_char_device();
        let geometry = if is_device {
            FbGeometry::query(&file)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?
        } else {
            let geometry = FbGeometry::assumed(
                self.config.fb_width_px,
                self.config.fb_height_px,
                self.config.bytes_per_pixel,
            );
            geometry.check()?;
            geometry
        };
        info!(
            device = %path.display(),
            width_px = geometry.width_px,
            height_px = geometry.height_px,
            bits_per_pixel = geometry.bits_per_pixel,
            line_length_bytes = geometry.line_length_bytes,
            x_offset_px = self.config.x_offset_px,
            y_offset_px = self.config.y_offset_px,
            "framebuffer open"
        );
        let graphics = match (&self.config.console_tty, is_device) {
            (Some(tty), true) => hide_console(tty),
            _ => None,
        };
        Ok(Open {
            file,
            geometry,
            graphics,
        })
    }
}

impl Display for FbdevSink {
    fn show(&mut self, frame: &RgbImage) -> io::Result<()> {
        let (x_offset, y_offset) = (self.config.x_offset_px, self.config.y_offset_px);
        let open = match &self.device {
            Ok(open) => open,
            Err(why) => return Err(io::Error::new(io::ErrorKind::NotFound, why.clone())),
        };
        let g = open.geometry;
        if !self.warned_clip
            && (x_offset + frame.width() > g.width_px || y_offset + frame.height() > g.height_px)
        {
            warn!(
                canvas = %format!("{}x{}", frame.width(), frame.height()),
                offset = %format!("+{x_offset}+{y_offset}"),
                framebuffer = %format!("{}x{}", g.width_px, g.height_px),
                "the LED canvas does not fit the framebuffer at this offset; drawing the part that does"
            );
            self.warned_clip = true;
        }
        if x_offset >= g.width_px {
            return Ok(());
        }
        let visible_width = frame.width().min(g.width_px - x_offset);
        let mut row = Vec::with_capacity((visible_width * g.bytes_per_pixel()) as usize);
        let mut result = Ok(());
        for y in 0..frame.height() {
            let fb_y = y_offset + y;
            if fb_y >= g.height_px {
                break;
            }
            row.clear();
            for x in 0..visible_width {
                g.push_pixel(frame.get_pixel(x, y).0, &mut row);
            }
            if let Err(e) = open.file.write_all_at(&row, g.offset_of(x_offset, fb_y)) {
                result = Err(e);
                break;
            }
        }
        if let Err(e) = &result {
            // Unplugged or failing: forget the device; `reopen` tries again.
            self.device = Err(format!("{}: {e}", self.config.path.display()));
        }
        result
    }

    fn reopen(&mut self) -> io::Result<()> {
        if self.device.is_ok() {
            return Ok(());
        }
        match self.open_device() {
            Ok(open) => {
                self.device = Ok(open);
                Ok(())
            }
            Err(e) => {
                self.device = Err(e.to_string());
                Err(e)
            }
        }
    }
}

impl Drop for FbdevSink {
    fn drop(&mut self) {
        let Ok(Open {
            graphics: Some(console),
            ..
        }) = &self.device
        else {
            return;
        };
        let _ = match console {
            Console::Stdin => framebuffer::Framebuffer::set_kd_mode(framebuffer::KdMode::Text),
            Console::Path(tty) => {
                framebuffer::Framebuffer::set_kd_mode_ex(tty, framebuffer::KdMode::Text)
            }
        };
        if let Some(tty) = &self.config.console_tty {
            let _ = OpenOptions::new()
                .write(true)
                .open(tty)
                .and_then(|mut t| t.write_all(SHOW_CURSOR));
        }
    }
}

/// Hides the text cursor and turns console blanking off (`setterm
/// -cursor off -blank 0`).
const HIDE_CURSOR_NO_BLANK: &[u8] = b"\x1b[?25l\x1b[9;0]\x1b[14;0]";
/// Shows the text cursor again.
const SHOW_CURSOR: &[u8] = b"\x1b[?25h";

/// Keeps the console off the LED area: the escape sequences for no cursor
/// and no blanking (write access to the tty: group `tty`), then graphics
/// mode (`KDSETMODE KD_GRAPHICS`: the kernel draws no text, cursor or
/// blanking into the framebuffer at all). Graphics mode needs the tty as
/// the process's own terminal (the unit's `TTYPath=`, see
/// `deploy/console.conf`) or read-write access to it. Best effort: says
/// what failed.
fn hide_console(tty: &Path) -> Option<Console> {
    use std::io::IsTerminal;
    let escapes = OpenOptions::new()
        .write(true)
        .open(tty)
        .and_then(|mut t| t.write_all(HIDE_CURSOR_NO_BLANK));
    if std::io::stdin().is_terminal()
        && framebuffer::Framebuffer::set_kd_mode(framebuffer::KdMode::Graphics).is_ok()
    {
        return Some(Console::Stdin);
    }
    match framebuffer::Framebuffer::set_kd_mode_ex(tty, framebuffer::KdMode::Graphics) {
        Ok(_) => Some(Console::Path(tty.to_owned())),
        Err(e) => {
            warn!(
                tty = %tty.display(),
                error = %e,
                escapes_written = escapes.is_ok(),
                "cannot put the console in graphics mode: console text may show on the LED area (install deploy/console.conf as a drop-in, or boot with vt.global_cursor_default=0 consoleblank=0 and mask getty@tty1)"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixel at `(x, y)` of a file in `geometry`'s layout.
    fn pixel(bytes: &[u8], g: &FbGeometry, x: u32, y: u32) -> Vec<u8> {
        let at = g.offset_of(x, y) as usize;
        bytes[at..at + g.bytes_per_pixel() as usize].to_vec()
    }

    #[test]
    fn padded_rows_and_an_offset_land_every_pixel_where_the_card_captures_it() {
        // A 40x20 XRGB8888 framebuffer whose rows are padded to 192 bytes
        // (48 pixels' worth), panned down one row: what many SoC drivers report.
        let geometry = FbGeometry {
            line_length_bytes: 192,
            start_byte: 192,
            ..FbGeometry::assumed(40, 20, 4)
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fb0");
        let size = 192 * 21;
        std::fs::write(&path, vec![0xEEu8; size]).unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let (x_off, y_off) = (7, 3);
        let mut sink = FbdevSink::with_geometry(file, geometry, x_off, y_off);
        // A 36x10 canvas: the last 3 columns fall off the right edge.
        let mut frame = RgbImage::new(36, 10);
        for (x, y, p) in frame.enumerate_pixels_mut() {
            *p = image::Rgb([x as u8 * 7, y as u8 * 20, 200]);
        }
        sink.show(&frame).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), size, "never grows");
        for y in 0..10 {
            for x in 0..33 {
                let [r, g, b] = frame.get_pixel(x, y).0;
                assert_eq!(
                    pixel(&bytes, &geometry, x + x_off, y + y_off),
                    vec![b, g, r, 0xFF],
                    "canvas ({x},{y})"
                );
            }
        }
        // Nothing else changed: not left of the canvas, not the row
        // padding, not the rows above and below, not the unpanned first row.
        let mut expected = vec![0xEEu8; size];
        for y in 0..10 {
            for x in 0..33 {
                let [r, g, b] = frame.get_pixel(x, y).0;
                let at = 192 + (y + y_off) as usize * 192 + (x + x_off) as usize * 4;
                expected[at..at + 4].copy_from_slice(&[b, g, r, 0xFF]);
            }
        }
        assert!(bytes == expected, "only the canvas's pixels changed");
    }

    #[test]
    fn rgb565_and_bgr_layouts_pack_each_colour_in_its_bits() {
        let rgb565 = FbGeometry::assumed(4, 1, 2);
        let mut out = Vec::new();
        rgb565.push_pixel([0xFF, 0, 0], &mut out);
        rgb565.push_pixel([0, 0xFF, 0], &mut out);
        rgb565.push_pixel([0, 0, 0xFF], &mut out);
        assert_eq!(out, vec![0x00, 0xF8, 0xE0, 0x07, 0x1F, 0x00]);
        // 24-bit BGR (red in the low byte), no alpha.
        let bgr24 = FbGeometry {
            bits_per_pixel: 24,
            line_length_bytes: 12,
            red: Channel {
                offset: 0,
                length: 8,
            },
            blue: Channel {
                offset: 16,
                length: 8,
            },
            alpha: Channel {
                offset: 0,
                length: 0,
            },
            ..FbGeometry::assumed(4, 1, 4)
        };
        bgr24.check().unwrap();
        let mut out = Vec::new();
        bgr24.push_pixel([1, 2, 3], &mut out);
        assert_eq!(out, vec![1, 2, 3]);
        // An 8-bit palette mode is refused with a reason.
        let palette = FbGeometry {
            bits_per_pixel: 8,
            ..FbGeometry::assumed(4, 1, 4)
        };
        assert!(palette.check().unwrap_err().to_string().contains("8 bits"));
        let short = FbGeometry {
            line_length_bytes: 8,
            ..FbGeometry::assumed(4, 1, 4)
        };
        assert!(short.check().is_err());
    }

    #[test]
    fn a_missing_device_fails_every_frame_until_it_appears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fb0");
        let config = FbdevConfig {
            path: path.clone(),
            fb_width_px: 16,
            fb_height_px: 8,
            bytes_per_pixel: 4,
            x_offset_px: 2,
            y_offset_px: 1,
            console_tty: None,
        };
        let mut sink = FbdevSink::open(&config);
        assert!(sink.missing().is_some_and(|why| why.contains("fb0")));
        let frame = RgbImage::from_pixel(4, 4, image::Rgb([255, 0, 0]));
        assert!(sink.show(&frame).is_err());
        assert!(sink.reopen().is_err());
        std::fs::write(&path, vec![0u8; 16 * 8 * 4]).unwrap();
        sink.reopen().unwrap();
        assert_eq!(sink.missing(), None);
        sink.show(&frame).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let g = sink.geometry().unwrap();
        assert_eq!(pixel(&bytes, &g, 2, 1), vec![0, 0, 255, 255]);
        assert_eq!(pixel(&bytes, &g, 1, 1), vec![0, 0, 0, 0]);
    }
}
