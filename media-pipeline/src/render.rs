//! Renditions: a material drawn at a screen profile's native size and
//! quantised to its colour class, encoded as PNG and content-addressed.
//!
//! Geometry (`fit`, `fill`, `stretch`) and resampling (Lanczos3 through the
//! SIMD `fast_image_resize`) happen in 8-bit sRGB; quantisation is 1-bit red
//! for `mono` (posters by luminance, text ink of any hue lit), 2-bit
//! red/green for `dual` and 8-bit RGB with LED gamma for `full`. Video is passed through, never transcoded. Nothing here decides
//! which profiles exist: the caller passes them in.

use std::sync::Arc;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::DynamicImage;
use ledcast_protocol::v1::MediaRef;

use crate::ingest::{sha256_of, IngestError, Material, MaterialKind};

/// The colour class of an LED screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColorClass {
    /// Single-colour red: each pixel on or off.
    Mono,
    /// Red/green: each pixel off, red, green or both (amber).
    Dual,
    /// Full colour, 8 bits per channel.
    Full,
}

/// What a screen can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RenderProfile {
    /// Native width in pixels.
    pub width: u32,
    /// Native height in pixels.
    pub height: u32,
    /// Colour class.
    pub color: ColorClass,
    /// Whether the controller can play MP4 video.
    pub video: bool,
    /// Whether the controller can scroll a strip.
    pub scroll: bool,
}

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// How an image meets a screen of another aspect ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fit {
    /// Whole image visible, letterboxed on `background`.
    Fit {
        /// Colour of the bars (and of transparent areas).
        background: Rgb,
    },
    /// Screen filled, the image centre-cropped.
    Fill,
    /// Screen filled, the image distorted.
    Stretch,
}

/// One material rendered for one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendition {
    /// PNG for stills and strips, the MP4 itself for video.
    pub bytes: Vec<u8>,
    /// Content address, size, MIME type and pixel size of `bytes`.
    pub media: ledcast_protocol::v1::MediaRef,
    /// For a scrolling strip: its width in pixels (`media.width`).
    pub strip_width_px: Option<u32>,
    /// LEDs lit in the rendition (`None` for video, which is not decoded).
    pub lit_pixels: Option<u64>,
    /// For a warning text: its layout, glyph size and length.
    pub text: Option<crate::TextFacts>,
    /// For a video: its codec (its coded size is `media.width` ×
    /// `media.height`).
    pub video_codec: Option<crate::VideoCodec>,
}

/// Why a rendition cannot be made.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// A zero or absurd profile size.
    #[error("profile size {width}x{height} is not drawable (1..=8192 pixels per side)")]
    BadProfile {
        /// Profile width.
        width: u32,
        /// Profile height.
        height: u32,
    },
    /// A video for a screen that cannot play video.
    #[error("this screen ({width}x{height}) cannot play video; choose a poster or a text for it")]
    VideoNotSupported {
        /// Profile width.
        width: u32,
        /// Profile height.
        height: u32,
    },
    /// The stored bytes no longer validate.
    #[error("the stored material cannot be read: {0}")]
    Stored(#[from] IngestError),
    /// The text has characters the fonts cannot draw.
    #[error(
        "the text contains characters the LED fonts cannot draw: {}",
        crate::ingest::format_chars(chars)
    )]
    UnknownGlyphs {
        /// Each missing character once.
        chars: Vec<char>,
    },
    /// The screen is too short for the smallest font.
    #[error("the screen is {height} px high; warning text needs at least {min} px")]
    ScreenTooShort {
        /// Profile height.
        height: u32,
        /// The smallest font's row height.
        min: u32,
    },
    /// Centred text does not fit even at the smallest legible size.
    #[error("the text needs {lines_needed} lines of {line_height} px characters but the {width}x{height} screen holds {lines_available}; shorten it to at most {max_chars} characters or show it on a scrolling screen")]
    TextDoesNotFit {
        /// Lines needed at the smallest size.
        lines_needed: u32,
        /// Lines available.
        lines_available: u32,
        /// Row height of the smallest font.
        line_height: u32,
        /// Profile width.
        width: u32,
        /// Profile height.
        height: u32,
        /// The most characters that fit at that size.
        max_chars: u32,
    },
    /// A strip would be wider than a PNG can sensibly be.
    #[error(
        "the scrolling strip would be {width_px} px wide, more than {max_px}; shorten the text"
    )]
    StripTooWide {
        /// Width needed.
        width_px: u64,
        /// The limit.
        max_px: u32,
    },
    /// A preview was asked of bytes that are not a rendition PNG.
    #[error("not a rendition PNG: {detail}")]
    NotARendition {
        /// What the decoder said.
        detail: String,
    },
    /// Resizing or encoding failed.
    #[error("internal rendering error: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

/// The widest strip [`crate::render_text`] produces.
pub(crate) const MAX_STRIP_PX: u32 = 65_535;

/// The exponent of the LED gamma baked into `full` renditions: LED drivers
/// are linear in PWM duty, so sRGB levels are raised to this power.
pub const LED_GAMMA: f64 = 2.2;

/// Renders `material` for `profile`. Posters are resized and quantised;
/// texts become a strip (scrolling profiles) or a centred page; videos pass
/// through when the profile plays video.
pub fn render(
    material: &Material,
    profile: &RenderProfile,
    fit: Fit,
) -> Result<Rendition, RenderError> {
    check_profile(profile)?;
    match material.kind {
        MaterialKind::Video => {
            if !profile.video {
                return Err(RenderError::VideoNotSupported {
                    width: profile.width,
                    height: profile.height,
                });
            }
            Ok(Rendition {
                bytes: material.bytes.clone(),
                media: MediaRef {
                    sha256: material.sha256,
                    size_bytes: material.bytes.len() as u64,
                    mime: material.mime.clone(),
                    width: material.width,
                    height: material.height,
                },
                strip_width_px: None,
                lit_pixels: None,
                text: None,
                video_codec: material.video_codec,
            })
        }
        MaterialKind::Text => {
            let text = material.text.as_deref().unwrap_or_default();
            let layout = if profile.scroll {
                crate::TextLayout::Strip
            } else {
                crate::TextLayout::Centered
            };
            crate::render_text(text, profile, layout)
        }
        MaterialKind::Poster => {
            let pixels = poster_pixels(material)?;
            render_poster(&pixels, profile, fit)
        }
    }
}

/// Renders one material for many profiles, decoding it at most once and
/// spreading the profiles over the available cores. Results are in the
/// order of `targets` and identical to calling [`render`] for each.
pub fn render_many(
    material: &Material,
    targets: &[(RenderProfile, Fit)],
) -> Vec<Result<Rendition, RenderError>> {
    let pixels = match material.kind {
        MaterialKind::Poster => match poster_pixels(material) {
            Ok(p) => Some(p),
            Err(e) => return targets.iter().map(|_| Err(e.clone())).collect(),
        },
        _ => None,
    };
    let one = |(profile, fit): &(RenderProfile, Fit)| -> Result<Rendition, RenderError> {
        match &pixels {
            Some(p) => check_profile(profile).and_then(|()| render_poster(p, profile, *fit)),
            None => render(material, profile, *fit),
        }
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(targets.len().max(1));
    if threads <= 1 {
        return targets.iter().map(one).collect();
    }
    // Largest first, dealt round-robin, so the big profiles do not share a core.
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(u64::from(targets[i].0.width) * u64::from(targets[i].0.height))
    });
    let mut results: Vec<Option<Result<Rendition, RenderError>>> =
        targets.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<usize> = order.iter().copied().skip(t).step_by(threads).collect();
                let one = &one;
                scope.spawn(move || {
                    mine.into_iter()
                        .map(|i| (i, one(&targets[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(done) => {
                    for (i, r) in done {
                        results[i] = Some(r);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(RenderError::Internal {
                    detail: "a render thread returned nothing".into(),
                })
            })
        })
        .collect()
}

fn check_profile(profile: &RenderProfile) -> Result<(), RenderError> {
    let ok = |v: u32| (1..=8192).contains(&v);
    if ok(profile.width) && ok(profile.height) {
        Ok(())
    } else {
        Err(RenderError::BadProfile {
            width: profile.width,
            height: profile.height,
        })
    }
}

fn poster_pixels(material: &Material) -> Result<Arc<DynamicImage>, RenderError> {
    if let Some(p) = &material.pixels {
        return Ok(Arc::clone(p));
    }
    let format = if material.mime == "image/jpeg" {
        image::ImageFormat::Jpeg
    } else {
        image::ImageFormat::Png
    };
    let decoded = crate::ingest::decode_image(&material.bytes, format, &crate::Limits::default())?;
    Ok(Arc::new(decoded.pixels))
}

/// Flattens to RGB8 over `background` (alpha composited, grey expanded).
fn to_rgb8(image: &DynamicImage, background: Rgb) -> std::borrow::Cow<'_, [u8]> {
    match image {
        DynamicImage::ImageRgb8(rgb) => std::borrow::Cow::Borrowed(rgb.as_raw().as_slice()),
        DynamicImage::ImageRgba8(rgba) => {
            let bg = [background.0, background.1, background.2];
            let mut out = Vec::with_capacity(rgba.as_raw().len() / 4 * 3);
            for px in rgba.as_raw().chunks_exact(4) {
                let a = u32::from(px[3]);
                for c in 0..3 {
                    let v = (u32::from(px[c]) * a + u32::from(bg[c]) * (255 - a) + 127) / 255;
                    out.push(v as u8);
                }
            }
            std::borrow::Cow::Owned(out)
        }
        other => std::borrow::Cow::Owned(other.to_rgb8().into_raw()),
    }
}

/// Where the resized image lands on the screen and which part of the source it shows.
struct Geometry {
    /// Source crop: left, top, width, height (source pixels).
    crop: (f64, f64, f64, f64),
    /// Destination rectangle: left, top, width, height (screen pixels).
    dest: (u32, u32, u32, u32),
}

fn geometry(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32, fit: Fit) -> Geometry {
    let (sw, sh, dw, dh) = (
        f64::from(src_w),
        f64::from(src_h),
        f64::from(dst_w),
        f64::from(dst_h),
    );
    match fit {
        Fit::Stretch => Geometry {
            crop: (0.0, 0.0, sw, sh),
            dest: (0, 0, dst_w, dst_h),
        },
        Fit::Fill => {
            let scale = (dw / sw).max(dh / sh);
            let cw = (dw / scale).min(sw);
            let ch = (dh / scale).min(sh);
            Geometry {
                crop: ((sw - cw) / 2.0, (sh - ch) / 2.0, cw, ch),
                dest: (0, 0, dst_w, dst_h),
            }
        }
        Fit::Fit { .. } => {
            let scale = (dw / sw).min(dh / sh);
            let w = ((sw * scale).round() as u32).clamp(1, dst_w);
            let h = ((sh * scale).round() as u32).clamp(1, dst_h);
            Geometry {
                crop: (0.0, 0.0, sw, sh),
                dest: ((dst_w - w) / 2, (dst_h - h) / 2, w, h),
            }
        }
    }
}

pub(crate) fn render_poster(
    image: &DynamicImage,
    profile: &RenderProfile,
    fit: Fit,
) -> Result<Rendition, RenderError> {
    let background = match fit {
        Fit::Fit { background } => background,
        _ => Rgb::default(),
    };
    let rgb = to_rgb8(image, background);
    let geo = geometry(
        image.width(),
        image.height(),
        profile.width,
        profile.height,
        fit,
    );
    let internal = |detail: String| RenderError::Internal { detail };
    let src = ImageRef::new(image.width(), image.height(), &rgb, PixelType::U8x3)
        .map_err(|e| internal(e.to_string()))?;
    let (dx, dy, dw, dh) = geo.dest;
    let mut resized = Image::new(dw, dh, PixelType::U8x3);
    let (cl, ct, cw, ch) = geo.crop;
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(cl, ct, cw, ch);
    Resizer::new()
        .resize(&src, &mut resized, &options)
        .map_err(|e| internal(e.to_string()))?;
    // Judge photo or line art on the picture itself, not the letterbox bars.
    let tone = if looks_like_photo(resized.buffer()) {
        Tone::Dither
    } else {
        Tone::Threshold
    };
    let (w, h) = (profile.width as usize, profile.height as usize);
    let mut canvas = if (dw, dh) == (profile.width, profile.height) {
        resized.into_vec()
    } else {
        let mut canvas = Vec::with_capacity(w * h * 3);
        for _ in 0..w * h {
            canvas.extend_from_slice(&[background.0, background.1, background.2]);
        }
        let row = dw as usize * 3;
        for (y, src_row) in resized.buffer().chunks_exact(row).enumerate() {
            let start = ((dy as usize + y) * w + dx as usize) * 3;
            canvas[start..start + row].copy_from_slice(src_row);
        }
        canvas
    };
    let (png, lit) = quantise_and_encode(
        &mut canvas,
        profile.width,
        profile.height,
        profile.color,
        tone,
    )?;
    Ok(still_rendition(
        png,
        profile.width,
        profile.height,
        None,
        lit,
    ))
}

pub(crate) fn still_rendition(
    png: Vec<u8>,
    width: u32,
    height: u32,
    strip: Option<u32>,
    lit_pixels: u64,
) -> Rendition {
    Rendition {
        media: MediaRef {
            sha256: sha256_of(&png),
            size_bytes: png.len() as u64,
            mime: "image/png".to_string(),
            width,
            height,
        },
        bytes: png,
        strip_width_px: strip,
        lit_pixels: Some(lit_pixels),
        text: None,
        video_codec: None,
    }
}

/// How to reduce tones for 1- and 2-bit screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Hard threshold (text, line art).
    Threshold,
    /// Floyd–Steinberg error diffusion (photos).
    Dither,
    /// Text ink on black: on a mono panel a pixel is lit when any channel
    /// is bright, so ink of any hue (pure red has a luminance of 77) lights
    /// the one LED colour; dual and full keep the ink's colour.
    Ink,
}

/// Quantises an RGB8 canvas to `color` and encodes the PNG: 1-bit indexed
/// (black, red) for mono, 2-bit indexed (black, red, green, amber) for dual,
/// 8-bit RGB with [`LED_GAMMA`] for full. Returns the PNG and how many
/// LEDs it lights.
pub(crate) fn quantise_and_encode(
    canvas: &mut [u8],
    width: u32,
    height: u32,
    color: ColorClass,
    tone: Tone,
) -> Result<(Vec<u8>, u64), RenderError> {
    let (w, h) = (width as usize, height as usize);
    match color {
        ColorClass::Full => {
            let lut = gamma_lut();
            for v in canvas.iter_mut() {
                *v = lut[*v as usize];
            }
            let lit = canvas
                .chunks_exact(3)
                .filter(|p| p.iter().any(|&v| v > 0))
                .count() as u64;
            encode_png(
                canvas,
                width,
                height,
                png::ColorType::Rgb,
                png::BitDepth::Eight,
                None,
            )
            .map(|png| (png, lit))
        }
        ColorClass::Mono => {
            let mut luma: Vec<u8> = if tone == Tone::Ink {
                canvas
                    .chunks_exact(3)
                    .map(|p| p[0].max(p[1]).max(p[2]))
                    .collect()
            } else {
                canvas
                    .chunks_exact(3)
                    .map(|p| {
                        ((77 * u32::from(p[0])
                            + 150 * u32::from(p[1])
                            + 29 * u32::from(p[2])
                            + 128)
                            >> 8) as u8
                    })
                    .collect()
            };
            let bits = to_bits(&mut luma, w, h, tone == Tone::Dither);
            let lit = bits.iter().filter(|&&b| b != 0).count() as u64;
            let packed = pack(&bits, w, h, 1);
            let palette = [0, 0, 0, 255, 0, 0];
            encode_png(
                &packed,
                width,
                height,
                png::ColorType::Indexed,
                png::BitDepth::One,
                Some(&palette),
            )
            .map(|png| (png, lit))
        }
        ColorClass::Dual => {
            let mut red: Vec<u8> = canvas.chunks_exact(3).map(|p| p[0]).collect();
            // Dual panels have no blue LED: blue shows on the green one.
            let mut green: Vec<u8> = canvas.chunks_exact(3).map(|p| p[1].max(p[2])).collect();
            let dither = tone == Tone::Dither;
            let r = to_bits(&mut red, w, h, dither);
            let g = to_bits(&mut green, w, h, dither);
            let index: Vec<u8> = r.iter().zip(&g).map(|(r, g)| r | (g << 1)).collect();
            let lit = index.iter().filter(|&&i| i != 0).count() as u64;
            let packed = pack(&index, w, h, 2);
            let palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 0];
            encode_png(
                &packed,
                width,
                height,
                png::ColorType::Indexed,
                png::BitDepth::Two,
                Some(&palette),
            )
            .map(|png| (png, lit))
        }
    }
}

fn gamma_lut() -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (i, v) in lut.iter_mut().enumerate() {
        *v = ((i as f64 / 255.0).powf(LED_GAMMA) * 255.0).round() as u8;
    }
    lut
}

/// The inverse of the LED gamma, for previews (what a viewer perceives).
pub(crate) fn inverse_gamma_lut() -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (i, v) in lut.iter_mut().enumerate() {
        *v = ((i as f64 / 255.0).powf(1.0 / LED_GAMMA) * 255.0).round() as u8;
    }
    lut
}

/// Line art and text are a few flat colours (plus resampled edges); photos
/// and gradients spread over many. So: a picture whose eight most common
/// colours (at 5 bits per channel) cover less than half of it is a photo.
/// `rgb` is packed RGB8.
fn looks_like_photo(rgb: &[u8]) -> bool {
    let pixels = rgb.len() / 3;
    if pixels == 0 {
        return false;
    }
    let mut histogram = vec![0u32; 1 << 15];
    for p in rgb.chunks_exact(3) {
        let bin =
            (usize::from(p[0] >> 3) << 10) | (usize::from(p[1] >> 3) << 5) | usize::from(p[2] >> 3);
        histogram[bin] += 1;
    }
    let mut top = [0u32; 8];
    for &count in &histogram {
        if count > top[7] {
            top[7] = count;
            top.sort_unstable_by(|a, b| b.cmp(a));
        }
    }
    let covered: u64 = top.iter().map(|&c| u64::from(c)).sum();
    covered * 2 < pixels as u64
}

/// Threshold at 128, or Floyd–Steinberg dithering; returns 0/1 per pixel.
fn to_bits(values: &mut [u8], w: usize, h: usize, dither: bool) -> Vec<u8> {
    if !dither {
        return values.iter().map(|&v| u8::from(v >= 128)).collect();
    }
    let mut err: Vec<i16> = values.iter().map(|&v| i16::from(v)).collect();
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let old = err[i].clamp(0, 255);
            let new = if old >= 128 { 255 } else { 0 };
            out[i] = u8::from(new == 255);
            let e = old - new;
            if x + 1 < w {
                err[i + 1] += e * 7 / 16;
            }
            if y + 1 < h {
                if x > 0 {
                    err[i + w - 1] += e * 3 / 16;
                }
                err[i + w] += e * 5 / 16;
                if x + 1 < w {
                    err[i + w + 1] += e / 16;
                }
            }
        }
    }
    out
}

/// Packs indices of `bits` bits each, rows padded to whole bytes (PNG order).
fn pack(index: &[u8], w: usize, h: usize, bits: usize) -> Vec<u8> {
    let per_byte = 8 / bits;
    let row_bytes = w.div_ceil(per_byte);
    let mut out = vec![0u8; row_bytes * h];
    for y in 0..h {
        for x in 0..w {
            let v = index[y * w + x];
            let shift = 8 - bits * (x % per_byte + 1);
            out[y * row_bytes + x / per_byte] |= v << shift;
        }
    }
    out
}

pub(crate) fn encode_png(
    data: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    palette: Option<&[u8]>,
) -> Result<Vec<u8>, RenderError> {
    encode_png_with(
        data,
        width,
        height,
        color,
        depth,
        palette,
        png::Compression::Fast,
    )
}

/// [`encode_png`] with a chosen compression level.
pub(crate) fn encode_png_with(
    data: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    palette: Option<&[u8]>,
    compression: png::Compression,
) -> Result<Vec<u8>, RenderError> {
    let internal = |e: png::EncodingError| RenderError::Internal {
        detail: format!("png encoding: {e}"),
    };
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        encoder.set_compression(compression);
        if let Some(palette) = palette {
            encoder.set_palette(palette.to_vec());
        }
        let mut writer = encoder.write_header().map_err(internal)?;
        writer.write_image_data(data).map_err(internal)?;
        writer.finish().map_err(internal)?;
    }
    Ok(out)
}
