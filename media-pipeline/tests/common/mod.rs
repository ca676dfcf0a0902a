//! Generators for test inputs: every file a test needs is made here, in
//! memory, so the repository holds no hostile fixtures.
#![allow(dead_code)]

use image::{ImageEncoder, Rgb, RgbImage};

/// A JPEG of `w`×`h` drawn by `pixel`.
pub fn jpeg(w: u32, h: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb(pixel(x, y)));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A PNG of `w`×`h` drawn by `pixel`.
pub fn png(w: u32, h: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb(pixel(x, y)));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    out.extend_from_slice(&h.finalize().to_be_bytes());
}

fn ihdr(w: u32, h: u32, depth: u8, color: u8) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&w.to_be_bytes());
    d.extend_from_slice(&h.to_be_bytes());
    d.extend_from_slice(&[depth, color, 0, 0, 0]);
    d
}

/// A PNG whose header claims `w`×`h` RGB pixels, with one tiny IDAT.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr(w, h, 8, 2));
    chunk(&mut out, b"IDAT", &zlib_zeros(1024));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A decompression bomb: a valid 16-bit RGBA PNG of `w`×`h` black pixels,
/// whose IDAT is a tiny deflate stream that expands to h×(1+8w) bytes.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    png_bomb_of_depth(w, h, 16)
}

/// [`png_bomb`] with `depth` (8 or 16) bits per RGBA channel.
pub fn png_bomb_of_depth(w: u32, h: u32, depth: u8) -> Vec<u8> {
    let raw = u64::from(h) * (1 + u64::from(depth / 2) * u64::from(w));
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr(w, h, depth, 6));
    let z = zlib_zeros(raw);
    for part in z.chunks(1 << 20) {
        chunk(&mut out, b"IDAT", part);
    }
    chunk(&mut out, b"IEND", &[]);
    out
}

struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// Huffman codes go most significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let mut rev = 0;
        for i in 0..len {
            rev |= ((code >> i) & 1) << (len - 1 - i);
        }
        self.put(rev, len);
    }
}

/// A zlib stream of `n` zero bytes: one literal, then length-258/distance-1
/// copies in one fixed-Huffman block.
pub fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman
    let mut left = n;
    if left > 0 {
        b.code(0x30, 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        b.code(0xC5, 8); // length 258 (code 285)
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block
    if b.n > 0 {
        b.out.push(b.acc as u8);
    }
    let adler = ((n % 65521) << 16) | 1;
    b.out.extend_from_slice(&(adler as u32).to_be_bytes());
    b.out
}

/// Inserts an EXIF APP1 segment with `orientation` right after SOI.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// An animated GIF with `frames` frames of 8×8.
pub fn gif_frames(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 30);
        for i in 0..frames {
            let shade = (i % 256) as u8;
            let img = image::RgbaImage::from_pixel(8, 8, image::Rgba([shade, 0, 0, 255]));
            enc.encode_frame(image::Frame::new(img)).unwrap();
        }
    }
    out
}

/// A minimal MP4 (ftyp, moov with one H.264 track, mdat). `faststart`
/// puts moov before mdat.
pub fn mp4(width: u16, height: u16, duration_ms: u64, faststart: bool) -> Vec<u8> {
    use mp4_atom::*;
    let ftyp = Ftyp {
        major_brand: FourCC::new(b"isom"),
        minor_version: 512,
        compatible_brands: vec![FourCC::new(b"isom"), FourCC::new(b"avc1")],
    };
    let avc1 = Avc1 {
        visual: Visual {
            data_reference_index: 1,
            width,
            height,
            ..Default::default()
        },
        avcc: Avcc {
            configuration_version: 1,
            avc_profile_indication: 66,
            profile_compatibility: 0,
            avc_level_indication: 30,
            length_size: 4,
            sequence_parameter_sets: vec![vec![0x67, 0x42, 0x00, 0x1e]],
            picture_parameter_sets: vec![vec![0x68, 0xce, 0x3c, 0x80]],
            ext: None,
        },
        ..Default::default()
    };
    let trak = Trak {
        tkhd: Tkhd {
            track_id: 1,
            duration: duration_ms,
            enabled: true,
            in_movie: true,
            width: FixedPoint::new(width, 0),
            height: FixedPoint::new(height, 0),
            ..Default::default()
        },
        mdia: Mdia {
            mdhd: Mdhd {
                timescale: 1000,
                duration: duration_ms,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: FourCC::new(b"vide"),
                name: "video".into(),
            },
            minf: Minf {
                vmhd: Some(Vmhd::default()),
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![Codec::Avc1(avc1)],
                    },
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    };
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1000,
            duration: duration_ms,
            next_track_id: 2,
            ..Default::default()
        },
        trak: vec![trak],
        ..Default::default()
    };
    let mdat = Mdat {
        data: vec![0u8; 4096],
    };
    let mut out = Vec::new();
    ftyp.encode(&mut out).unwrap();
    if faststart {
        moov.encode(&mut out).unwrap();
        mdat.encode(&mut out).unwrap();
    } else {
        mdat.encode(&mut out).unwrap();
        moov.encode(&mut out).unwrap();
    }
    out
}

/// The process's peak resident set (VmHWM), in bytes.
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}
