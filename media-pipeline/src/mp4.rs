//! MP4 probing: box layout checks (truncation, faststart) and the first video
//! track's codec, size and duration, read with the `mp4-atom` crate.
//!
//! Reads the container only: no sample data is decoded and nothing is
//! transcoded.

use mp4_atom::{Atom, Codec, Decode, Moov};

use crate::ingest::{IngestError, VideoCodec};

/// What the container says about the video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Probe {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) duration_ms: u64,
    pub(crate) codec: VideoCodec,
}

/// Walks the top-level boxes, then decodes `moov`.
pub(crate) fn probe(bytes: &[u8]) -> Result<Probe, IngestError> {
    let mut pos: u64 = 0;
    let len = bytes.len() as u64;
    let mut moov: Option<(usize, usize)> = None;
    let mut mdat_seen_before_moov = false;
    while pos < len {
        if len - pos < 8 {
            return Err(truncated(format!(
                "a box header at byte {pos} is cut short"
            )));
        }
        let p = pos as usize;
        let size32 = u32::from_be_bytes([bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]]);
        let kind = [bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]];
        let (size, header) = match size32 {
            0 => (len - pos, 8),
            1 => {
                if len - pos < 16 {
                    return Err(truncated(format!(
                        "a 64-bit box header at byte {pos} is cut short"
                    )));
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&bytes[p + 8..p + 16]);
                (u64::from_be_bytes(b), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err(IngestError::Corrupt {
                format: "MP4",
                detail: format!("box {} at byte {pos} declares size {size}", fourcc(kind)),
            });
        }
        if size > len - pos {
            return Err(truncated(format!(
                "box {} at byte {pos} declares {size} bytes but only {} remain",
                fourcc(kind),
                len - pos
            )));
        }
        match &kind {
            b"moov" if moov.is_none() => moov = Some((p, (pos + size) as usize)),
            b"mdat" if moov.is_none() => mdat_seen_before_moov = true,
            _ => {}
        }
        pos += size;
    }
    let Some((start, end)) = moov else {
        return Err(truncated(
            "no moov box (the recording may have been cut off)".to_string(),
        ));
    };
    if mdat_seen_before_moov {
        return Err(IngestError::Mp4NotFaststart);
    }
    let mut slice = &bytes[start..end];
    let moov = Moov::decode(&mut slice).map_err(|e| IngestError::Corrupt {
        format: "MP4",
        detail: format!("{} box: {e}", fourcc(Moov::KIND.into())),
    })?;
    let mut other_codecs = Vec::new();
    for trak in &moov.trak {
        if trak.mdia.hdlr.handler != mp4_atom::FourCC::new(b"vide") {
            continue;
        }
        for codec in &trak.mdia.minf.stbl.stsd.codecs {
            let (codec, visual) = match codec {
                Codec::Avc1(c) => (VideoCodec::H264, &c.visual),
                Codec::Avc3(c) => (VideoCodec::H264, &c.visual),
                Codec::Hev1(c) => (VideoCodec::H265, &c.visual),
                Codec::Hvc1(c) => (VideoCodec::H265, &c.visual),
                other => {
                    other_codecs.push(codec_name(other));
                    continue;
                }
            };
            let timescale = u64::from(moov.mvhd.timescale.max(1));
            let mut duration_ms = moov.mvhd.duration.saturating_mul(1000) / timescale;
            if duration_ms == 0 {
                let mdhd = &trak.mdia.mdhd;
                duration_ms = mdhd.duration.saturating_mul(1000) / u64::from(mdhd.timescale.max(1));
            }
            let (mut width, mut height) = (u32::from(visual.width), u32::from(visual.height));
            if width == 0 || height == 0 {
                width = u32::from(trak.tkhd.width.integer());
                height = u32::from(trak.tkhd.height.integer());
            }
            if width == 0 || height == 0 {
                return Err(IngestError::Mp4Unplayable {
                    detail: "the video track declares no picture size".into(),
                });
            }
            if duration_ms == 0 {
                return Err(IngestError::Mp4Unplayable {
                    detail: "the video declares no duration".into(),
                });
            }
            return Ok(Probe {
                width,
                height,
                duration_ms,
                codec,
            });
        }
    }
    let detail = if other_codecs.is_empty() {
        "no video track".to_string()
    } else {
        format!(
            "video codec {} is not accepted (use H.264 or H.265)",
            other_codecs.join(", ")
        )
    };
    Err(IngestError::Mp4Unplayable { detail })
}

fn truncated(detail: String) -> IngestError {
    IngestError::Truncated {
        format: "MP4",
        detail,
    }
}

fn fourcc(kind: [u8; 4]) -> String {
    String::from_utf8_lossy(&kind).into_owned()
}

fn codec_name(codec: &Codec) -> String {
    let debug = format!("{codec:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("unknown")
        .to_ascii_lowercase()
}
