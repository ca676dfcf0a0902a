//! Ingest: bytes of an upload → a validated, re-encoded [`Material`].
//!
//! Sniffs by content (never by name), checks sizes from headers before
//! decoding, decodes under `image::Limits`, applies EXIF orientation and
//! re-encodes so that no metadata or smuggled payload survives. MP4 is probed
//! (not transcoded) by [`crate::mp4`]. Does not store anything: the caller
//! names the stored bytes by [`Material::sha256`].

use std::io::Cursor;
use std::sync::Arc;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use ledcast_protocol::v1::Sha256;
use sha2::Digest;

use crate::sniff::{sniff, Sniffed};

/// Caps applied to every upload. Defaults suit posters from a county pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted image upload, in bytes.
    pub max_image_bytes: u64,
    /// Largest accepted MP4 upload, in bytes.
    pub max_video_bytes: u64,
    /// Largest accepted warning text, in bytes (UTF-8).
    pub max_text_bytes: u64,
    /// Largest accepted warning text, in characters.
    pub max_text_chars: usize,
    /// Most pixels (width × height) an image may declare.
    pub max_pixels: u64,
    /// Longest side an image or video may declare, in pixels.
    pub max_side_px: u32,
    /// Most memory a decoder may allocate, in bytes (`image::Limits::max_alloc`).
    pub max_decode_bytes: u64,
    /// Longest accepted video, in milliseconds.
    pub max_video_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_image_bytes: 50 * 1024 * 1024,
            max_video_bytes: 500 * 1024 * 1024,
            max_text_bytes: 64 * 1024,
            max_text_chars: 2_000,
            max_pixels: 40_000_000,
            max_side_px: 16_384,
            // 96 MiB: a 4,800² RGBA or 5,600² RGB poster (an A2 print at
            // 200 dpi); each decode at the cap costs about 1.5× that in RSS,
            // and the server decodes at most `uploads_at_once` at a time.
            max_decode_bytes: 96 * 1024 * 1024,
            max_video_ms: 30 * 60 * 1000,
        }
    }
}

/// What a material is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaterialKind {
    /// A still image.
    Poster,
    /// An MP4 video.
    Video,
    /// A warning text (UTF-8).
    Text,
}

/// The video codec found in an MP4's first video track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 / AVC (`avc1`, `avc3`).
    H264,
    /// H.265 / HEVC (`hvc1`, `hev1`).
    H265,
}

/// A validated upload, ready to be stored under [`Material::sha256`].
#[derive(Clone)]
pub struct Material {
    /// Poster, video or text.
    pub kind: MaterialKind,
    /// The bytes to store: re-encoded images (JPEG stays JPEG, everything
    /// else becomes PNG), the MP4 unchanged, or the normalised UTF-8 text.
    pub bytes: Vec<u8>,
    /// SHA-256 of [`Material::bytes`]: the material's id.
    pub sha256: Sha256,
    /// MIME type of [`Material::bytes`].
    pub mime: String,
    /// What the upload was detected as (`JPEG`, `PNG`, `GIF`, `WebP`, `MP4`, `text`).
    pub detected: &'static str,
    /// Width in pixels (0 for text).
    pub width: u32,
    /// Height in pixels (0 for text).
    pub height: u32,
    /// Duration for video.
    pub duration_ms: Option<u64>,
    /// Codec for video.
    pub video_codec: Option<VideoCodec>,
    /// The normalised warning text, for text.
    pub text: Option<String>,
    /// The name the uploader gave; metadata only, never a path.
    pub declared_name: String,
    /// Things staff should know (`GIF: first frame only`, `rotated upright from EXIF orientation`).
    pub notes: Vec<String>,
    /// Decoded pixels of the stored image, so renditions right after ingest
    /// need no second decode. `None` after [`load_stored`] until first use.
    pub(crate) pixels: Option<Arc<DynamicImage>>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("kind", &self.kind)
            .field("sha256", &self.sha256)
            .field("mime", &self.mime)
            .field("detected", &self.detected)
            .field("size_bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("duration_ms", &self.duration_ms)
            .field("video_codec", &self.video_codec)
            .field("text", &self.text)
            .field("declared_name", &self.declared_name)
            .field("notes", &self.notes)
            .finish()
    }
}

/// Why an upload was refused. Each message names what was found.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum IngestError {
    /// Zero bytes (or only whitespace for text).
    #[error("the file is empty")]
    Empty,
    /// Not a kind we accept.
    #[error("unsupported file type: detected {detected}; accepted are JPEG, PNG, WebP, GIF, MP4 (H.264/H.265) and UTF-8 text")]
    UnsupportedType {
        /// What the content looks like.
        detected: String,
    },
    /// Larger than the limit for its kind.
    #[error("{what} of {bytes} bytes is larger than the limit of {max} bytes")]
    TooLarge {
        /// `image`, `video` or `text`.
        what: &'static str,
        /// Size of the upload.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The header declares more pixels than allowed (checked before decoding).
    #[error("image declares {width}x{height} pixels, more than the limit of {max} pixels (or {max_side} per side); scale it down before uploading")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Pixel limit.
        max: u64,
        /// Per-side limit.
        max_side: u32,
    },
    /// Decoding would need more memory than allowed (a decompression bomb or
    /// an extreme bit depth).
    #[error(
        "decoding this {format} image needs more memory than the limit of {max} bytes ({detail})"
    )]
    DecodeMemory {
        /// Detected format.
        format: &'static str,
        /// What needs the memory.
        detail: String,
        /// The limit.
        max: u64,
    },
    /// The file ends early.
    #[error("the {format} file is truncated: {detail}")]
    Truncated {
        /// Detected format.
        format: &'static str,
        /// Where it stops.
        detail: String,
    },
    /// The file is damaged.
    #[error("the {format} file is corrupt: {detail}")]
    Corrupt {
        /// Detected format.
        format: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// The MP4's index (`moov`) comes after its media data, so players must
    /// read the whole file before starting.
    #[error("the MP4 is not faststart: its moov box comes after mdat; re-export with faststart (e.g. ffmpeg -movflags +faststart)")]
    Mp4NotFaststart,
    /// The MP4 has no playable video track of an accepted codec.
    #[error("the MP4 cannot be played: {detail}")]
    Mp4Unplayable {
        /// What is wrong.
        detail: String,
    },
    /// The video is longer than allowed.
    #[error("the video lasts {duration_ms} ms, longer than the limit of {max_ms} ms")]
    TooLong {
        /// Its duration.
        duration_ms: u64,
        /// The limit.
        max_ms: u64,
    },
    /// The warning text has characters the LED fonts cannot draw.
    #[error(
        "the text contains characters the LED fonts cannot draw: {}; {} (文字中有 LED 字库无法显示的字符：{}；{})",
        format_chars(chars),
        glyph_hint_en(chars),
        format_chars(chars),
        glyph_hint_zh(chars)
    )]
    UnknownGlyphs {
        /// Each missing character once, in order of appearance.
        chars: Vec<char>,
    },
    /// The warning text is longer than allowed.
    #[error("the text has {chars} characters, more than the limit of {max}")]
    TextTooLong {
        /// Its length.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// Re-encoding failed (should not happen for a decoded image).
    #[error("re-encoding the {format} image failed: {detail}")]
    Encode {
        /// Detected format.
        format: &'static str,
        /// What the encoder said.
        detail: String,
    },
}

/// What kind of character the fonts lack, for a concrete hint.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Missing {
    Emoji,
    RareHanzi,
    PrivateUse,
    Other,
}

fn missing_kind(c: char) -> Missing {
    match c as u32 {
        0x1F000..=0x1FAFF | 0x2B00..=0x2BFF => Missing::Emoji,
        0x20000..=0x3FFFF => Missing::RareHanzi,
        0xE000..=0xF8FF | 0xF0000..=0x10FFFF => Missing::PrivateUse,
        _ => Missing::Other,
    }
}

/// What to do about each kind of missing character, in English and Chinese.
const GLYPH_HINTS: [(Missing, &str, &str); 4] = [
    (
        Missing::Emoji,
        "emoji cannot be shown on LED screens: delete them or say it in words",
        "LED 屏不能显示表情符号：请删除或改用文字",
    ),
    (
        Missing::RareHanzi,
        "a rare character beyond GB2312/GBK and Extension A: use a common character or write it in pinyin",
        "这是 GB2312/GBK 和扩展 A 以外的生僻字：请换成常用字或写拼音",
    ),
    (
        Missing::PrivateUse,
        "a private-use symbol (a font's own icon, often pasted from Word or WeChat): retype it as ordinary text",
        "这是私用区符号（常从 Word 或微信粘贴而来）：请改用普通文字重新输入",
    ),
    (
        Missing::Other,
        "replace it with a common character or delete it",
        "请换成常用字符或删除",
    ),
];

/// The hints for the kinds of missing character in `chars`, in English.
pub(crate) fn glyph_hint_en(chars: &[char]) -> String {
    glyph_hints(chars, |&(_, en, _)| en).join("; ")
}

/// The same hints in Chinese.
pub(crate) fn glyph_hint_zh(chars: &[char]) -> String {
    glyph_hints(chars, |&(_, _, zh)| zh).join("；")
}

fn glyph_hints(
    chars: &[char],
    text: impl Fn(&(Missing, &'static str, &'static str)) -> &'static str,
) -> Vec<&'static str> {
    GLYPH_HINTS
        .iter()
        .filter(|(kind, _, _)| chars.iter().any(|&c| missing_kind(c) == *kind))
        .map(text)
        .collect()
}

pub(crate) fn format_chars(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| format!("'{c}' (U+{:04X})", *c as u32))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validates and re-encodes an upload. `declared_name` is kept as metadata
/// only; the type is decided by content.
pub fn ingest(bytes: &[u8], declared_name: &str, limits: &Limits) -> Result<Material, IngestError> {
    ingest_inner(bytes, declared_name, limits, Mode::Upload)
}

/// Rebuilds a [`Material`] from bytes this crate stored earlier, without
/// re-encoding, so its hash is unchanged. Still validates everything.
pub fn load_stored(bytes: &[u8], limits: &Limits) -> Result<Material, IngestError> {
    ingest_inner(bytes, "", limits, Mode::Stored)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Upload,
    Stored,
}

fn ingest_inner(
    bytes: &[u8],
    declared_name: &str,
    limits: &Limits,
    mode: Mode,
) -> Result<Material, IngestError> {
    if bytes.is_empty() {
        return Err(IngestError::Empty);
    }
    let declared_name = clean_name(declared_name);
    match sniff(bytes) {
        Sniffed::Jpeg => ingest_image(bytes, ImageFormat::Jpeg, declared_name, limits, mode),
        Sniffed::Png => ingest_image(bytes, ImageFormat::Png, declared_name, limits, mode),
        Sniffed::Gif => ingest_image(bytes, ImageFormat::Gif, declared_name, limits, mode),
        Sniffed::Webp => ingest_image(bytes, ImageFormat::WebP, declared_name, limits, mode),
        Sniffed::Mp4 => ingest_mp4(bytes, declared_name, limits),
        Sniffed::Text => ingest_text(bytes, declared_name, limits),
        Sniffed::Refused(what) => Err(IngestError::UnsupportedType {
            detected: what.to_string(),
        }),
    }
}

/// Keeps the uploader's name printable and short; it is never used as a path.
fn clean_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(200).collect()
}

pub(crate) fn sha256_of(bytes: &[u8]) -> Sha256 {
    Sha256(sha2::Sha256::digest(bytes).into())
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        _ => "image",
    }
}

fn ingest_image(
    bytes: &[u8],
    format: ImageFormat,
    declared_name: String,
    limits: &Limits,
    mode: Mode,
) -> Result<Material, IngestError> {
    let name = format_name(format);
    let size = bytes.len() as u64;
    if size > limits.max_image_bytes {
        return Err(IngestError::TooLarge {
            what: "image",
            bytes: size,
            max: limits.max_image_bytes,
        });
    }
    check_structure(bytes, format)?;
    let image = decode_image(bytes, format, limits)?;
    let mut notes = Vec::new();
    if image.rotated {
        notes.push("rotated upright from EXIF orientation".to_string());
    }
    if format == ImageFormat::Gif {
        notes.push("GIF: first frame only; animation is not played".to_string());
    }
    let pixels = image.pixels;
    let (stored, mime) = match mode {
        Mode::Stored => {
            let mime = match format {
                ImageFormat::Jpeg => "image/jpeg",
                _ => "image/png",
            };
            (bytes.to_vec(), mime)
        }
        Mode::Upload => encode_stored(&pixels, format)?,
    };
    // The pixels kept for rendering are the stored bytes' own pixels when the
    // stored encoding is lossless; for JPEG they are the pre-encoding pixels
    // (one decode saved; the difference is far below one LED step).
    Ok(Material {
        kind: MaterialKind::Poster,
        sha256: sha256_of(&stored),
        bytes: stored,
        mime: mime.to_string(),
        detected: name,
        width: pixels.width(),
        height: pixels.height(),
        duration_ms: None,
        video_codec: None,
        text: None,
        declared_name,
        notes,
        pixels: Some(Arc::new(pixels)),
    })
}

/// Cheap structural checks the decoders are lenient about.
fn check_structure(bytes: &[u8], format: ImageFormat) -> Result<(), IngestError> {
    match format {
        ImageFormat::Jpeg => {
            // Entropy-coded data never contains FF DA or FF D9 (FF is stuffed),
            // so the image ends with an EOI after the last start-of-scan.
            let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
            let Some(sos) = last_sos else {
                return Err(IngestError::Truncated {
                    format: "JPEG",
                    detail: "no image data (start-of-scan marker) found".into(),
                });
            };
            if !bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9]) {
                return Err(IngestError::Truncated {
                    format: "JPEG",
                    detail: "image data stops before the end-of-image marker".into(),
                });
            }
            Ok(())
        }
        ImageFormat::Png => {
            let mut pos = 8usize;
            loop {
                if pos + 8 > bytes.len() {
                    return Err(IngestError::Truncated {
                        format: "PNG",
                        detail: format!("stops at byte {} before the IEND chunk", bytes.len()),
                    });
                }
                let len = u32::from_be_bytes([
                    bytes[pos],
                    bytes[pos + 1],
                    bytes[pos + 2],
                    bytes[pos + 3],
                ]) as usize;
                let kind = &bytes[pos + 4..pos + 8];
                let end = pos.saturating_add(12).saturating_add(len);
                if end > bytes.len() {
                    return Err(IngestError::Truncated {
                        format: "PNG",
                        detail: format!(
                            "chunk {} at byte {pos} needs {len} bytes but the file ends first",
                            String::from_utf8_lossy(kind)
                        ),
                    });
                }
                let data = &bytes[pos + 8..pos + 8 + len];
                let stored_crc = u32::from_be_bytes([
                    bytes[end - 4],
                    bytes[end - 3],
                    bytes[end - 2],
                    bytes[end - 1],
                ]);
                let mut crc = crc32fast::Hasher::new();
                crc.update(kind);
                crc.update(data);
                if crc.finalize() != stored_crc {
                    return Err(IngestError::Corrupt {
                        format: "PNG",
                        detail: format!(
                            "chunk {} at byte {pos} has a bad CRC (damaged in transfer or edited)",
                            String::from_utf8_lossy(kind)
                        ),
                    });
                }
                if kind == b"IEND" {
                    return Ok(());
                }
                pos = end;
            }
        }
        // GIF and WebP: the decoders report truncation themselves; a GIF cut
        // after its first frame still shows that frame, which is all we keep.
        _ => Ok(()),
    }
}

pub(crate) struct Decoded {
    pub(crate) pixels: DynamicImage,
    pub(crate) rotated: bool,
}

/// Decodes under limits: dimensions from the header first, then a decode
/// whose allocations are capped; EXIF orientation applied.
pub(crate) fn decode_image(
    bytes: &[u8],
    format: ImageFormat,
    limits: &Limits,
) -> Result<Decoded, IngestError> {
    let name = format_name(format);
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(limits.max_decode_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(header_limits.clone());
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| map_image_error(e, name, limits))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels
        || width > limits.max_side_px
        || height > limits.max_side_px
        || width == 0
        || height == 0
    {
        return Err(IngestError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
            max_side: limits.max_side_px,
        });
    }
    let mut decode_limits = header_limits;
    decode_limits.max_image_width = Some(limits.max_side_px);
    decode_limits.max_image_height = Some(limits.max_side_px);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decode_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| map_image_error(e, name, limits))?;
    let needed = decoder.total_bytes();
    if needed > limits.max_decode_bytes {
        return Err(IngestError::DecodeMemory {
            format: name,
            detail: format!(
                "{width}x{height} pixels of {:?} take {needed} bytes",
                decoder.color_type()
            ),
            max: limits.max_decode_bytes,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| map_image_error(e, name, limits))?;
    let rotated = orientation != image::metadata::Orientation::NoTransforms;
    image.apply_orientation(orientation);
    // Renditions work in 8-bit; 16-bit and float inputs are narrowed once here.
    let image = match image {
        DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_)
        | DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_) => image,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    };
    Ok(Decoded {
        pixels: image,
        rotated,
    })
}

fn map_image_error(error: ImageError, format: &'static str, limits: &Limits) -> IngestError {
    match error {
        ImageError::Limits(e) => IngestError::DecodeMemory {
            format,
            detail: e.to_string(),
            max: limits.max_decode_bytes,
        },
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            IngestError::Truncated {
                format,
                detail: e.to_string(),
            }
        }
        ImageError::Unsupported(e) => IngestError::UnsupportedType {
            detected: format!("{format} variant the decoder does not support ({e})"),
        },
        other => {
            let detail = other.to_string();
            if detail.to_ascii_lowercase().contains("unexpected end")
                || detail.to_ascii_lowercase().contains("eof")
            {
                IngestError::Truncated { format, detail }
            } else {
                IngestError::Corrupt { format, detail }
            }
        }
    }
}

/// JPEG stays JPEG (quality 90, no metadata); everything else becomes PNG.
fn encode_stored(
    image: &DynamicImage,
    format: ImageFormat,
) -> Result<(Vec<u8>, &'static str), IngestError> {
    let name = format_name(format);
    let mut out = Vec::new();
    let encode_error = |e: ImageError| IngestError::Encode {
        format: name,
        detail: e.to_string(),
    };
    if format == ImageFormat::Jpeg && !image.color().has_alpha() {
        // jpeg-encoder (SIMD) is several times faster than image's encoder.
        let jpeg_error = |e: jpeg_encoder::EncodingError| IngestError::Encode {
            format: name,
            detail: e.to_string(),
        };
        let (w, h) = (
            u16::try_from(image.width()).map_err(|_| IngestError::Encode {
                format: name,
                detail: "wider than 65535 pixels".into(),
            })?,
            u16::try_from(image.height()).map_err(|_| IngestError::Encode {
                format: name,
                detail: "taller than 65535 pixels".into(),
            })?,
        );
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        match image {
            DynamicImage::ImageLuma8(gray) => {
                encoder.encode(gray.as_raw(), w, h, jpeg_encoder::ColorType::Luma)
            }
            DynamicImage::ImageRgb8(rgb) => {
                encoder.encode(rgb.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
            }
            other => encoder.encode(other.to_rgb8().as_raw(), w, h, jpeg_encoder::ColorType::Rgb),
        }
        .map_err(jpeg_error)?;
        Ok((out, "image/jpeg"))
    } else {
        let encoder = image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        );
        image.write_with_encoder(encoder).map_err(encode_error)?;
        Ok((out, "image/png"))
    }
}

fn ingest_mp4(
    bytes: &[u8],
    declared_name: String,
    limits: &Limits,
) -> Result<Material, IngestError> {
    let size = bytes.len() as u64;
    if size > limits.max_video_bytes {
        return Err(IngestError::TooLarge {
            what: "video",
            bytes: size,
            max: limits.max_video_bytes,
        });
    }
    let probe = crate::mp4::probe(bytes)?;
    if probe.width > limits.max_side_px || probe.height > limits.max_side_px {
        return Err(IngestError::TooManyPixels {
            width: probe.width,
            height: probe.height,
            max: limits.max_pixels,
            max_side: limits.max_side_px,
        });
    }
    if probe.duration_ms > limits.max_video_ms {
        return Err(IngestError::TooLong {
            duration_ms: probe.duration_ms,
            max_ms: limits.max_video_ms,
        });
    }
    Ok(Material {
        kind: MaterialKind::Video,
        bytes: bytes.to_vec(),
        sha256: sha256_of(bytes),
        mime: "video/mp4".to_string(),
        detected: "MP4",
        width: probe.width,
        height: probe.height,
        duration_ms: Some(probe.duration_ms),
        video_codec: Some(probe.codec),
        text: None,
        declared_name,
        notes: vec!["video stored as uploaded (container checked, not transcoded)".to_string()],
        pixels: None,
    })
}

fn ingest_text(
    bytes: &[u8],
    declared_name: String,
    limits: &Limits,
) -> Result<Material, IngestError> {
    let size = bytes.len() as u64;
    if size > limits.max_text_bytes {
        return Err(IngestError::TooLarge {
            what: "text",
            bytes: size,
            max: limits.max_text_bytes,
        });
    }
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let raw = std::str::from_utf8(body).map_err(|e| IngestError::Corrupt {
        format: "text",
        detail: e.to_string(),
    })?;
    let (text, notes) = normalise_text(raw);
    if text.is_empty() {
        return Err(IngestError::Empty);
    }
    let chars = text.chars().count();
    if chars > limits.max_text_chars {
        return Err(IngestError::TextTooLong {
            chars,
            max: limits.max_text_chars,
        });
    }
    crate::text::check_glyphs(&text).map_err(|chars| IngestError::UnknownGlyphs { chars })?;
    let stored = text.clone().into_bytes();
    Ok(Material {
        kind: MaterialKind::Text,
        sha256: sha256_of(&stored),
        bytes: stored,
        mime: "text/plain; charset=utf-8".to_string(),
        detected: "text",
        width: 0,
        height: 0,
        duration_ms: None,
        video_codec: None,
        text: Some(text),
        declared_name,
        notes,
        pixels: None,
    })
}

/// Characters that take no room and show nothing: zero-width space and
/// joiners, the soft hyphen, bidi controls, variation selectors (U+FE0F
/// after a pasted emoji), the byte-order mark, interlinear annotation and
/// tag characters, Hangul fillers, and control characters. Text copied
/// from WeChat or Word carries them; Unifont would draw them as dotted
/// boxes reading "ZW SP" or "SHY".
fn invisible_name(c: char) -> Option<&'static str> {
    Some(match c as u32 {
        0x00AD => "soft hyphen",
        0x034F => "combining grapheme joiner",
        0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069 => "direction mark",
        0x115F | 0x1160 | 0x3164 | 0xFFA0 => "Hangul filler",
        0x180B..=0x180F | 0xFE00..=0xFE0F | 0xE0100..=0xE01EF => "variation selector",
        0x200B => "zero-width space",
        0x200C => "zero-width non-joiner",
        0x200D => "zero-width joiner",
        0x2060..=0x2064 | 0x206A..=0x206F => "invisible operator",
        0xFEFF => "zero-width no-break space (BOM)",
        0xFFF9..=0xFFFB => "interlinear annotation",
        0xE0000..=0xE007F => "tag character",
        0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F..=0x9F => "control character",
        _ => return None,
    })
}

/// NFC; CRLF, CR, U+2028 and U+2029 → LF; tabs → space; invisible format
/// characters removed; trailing spaces per line and blank edges removed.
/// Returns the text and a note for each kind of change staff should know.
fn normalise_text(raw: &str) -> (String, Vec<String>) {
    use unicode_normalization::UnicodeNormalization;
    let mut notes = Vec::new();
    let nfc: String = raw.nfc().collect();
    if nfc != raw {
        notes.push(
            "normalised to Unicode NFC (composed characters) / 已规范为 Unicode NFC 组合形式"
                .to_string(),
        );
    }
    let unified = nfc.replace("\r\n", "\n").replace(['\r'], "\n");
    let mut removed: Vec<(&'static str, char, usize)> = Vec::new();
    let mut separators = 0;
    let mut kept = String::with_capacity(unified.len());
    for c in unified.chars() {
        if c == '\u{2028}' || c == '\u{2029}' {
            separators += 1;
            kept.push('\n');
        } else if c == '\t' {
            kept.push(' ');
        } else if let Some(name) = invisible_name(c) {
            match removed.iter_mut().find(|(_, k, _)| *k == c) {
                Some(entry) => entry.2 += 1,
                None => removed.push((name, c, 1)),
            }
        } else {
            kept.push(c);
        }
    }
    if !removed.is_empty() {
        let total: usize = removed.iter().map(|r| r.2).sum();
        let list: Vec<String> = removed
            .iter()
            .map(|(name, c, n)| format!("{name} U+{:04X} ×{n}", *c as u32))
            .collect();
        notes.push(format!(
            "removed {total} invisible formatting character(s) that LED screens cannot show: {} / 已删除 {total} 个 LED 屏无法显示的不可见格式字符（常见于从微信、Word 复制的文字）：{}",
            list.join(", "),
            list.join("，")
        ));
    }
    if separators > 0 {
        notes.push(format!(
            "{separators} Unicode line separator(s) (U+2028/U+2029) turned into line breaks / 已把 {separators} 个 Unicode 行分隔符（U+2028/U+2029）改为换行"
        ));
    }
    let lines: Vec<&str> = kept.lines().map(str::trim_end).collect();
    (lines.join("\n").trim().to_string(), notes)
}
