//! Content sniffing: what a byte string is, judged by its content alone.
//!
//! The upload's file name is never consulted here. This module only
//! classifies; it does not validate dimensions or decode anything.

/// What the first bytes say a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// A JPEG image.
    Jpeg,
    /// A PNG image.
    Png,
    /// A GIF image (possibly animated).
    Gif,
    /// A WebP image.
    Webp,
    /// An ISO-BMFF file with an MP4 brand.
    Mp4,
    /// UTF-8 text without markup (a warning text).
    Text,
    /// Something we refuse; the string names it for the error message.
    Refused(&'static str),
}

/// Classifies `bytes` by content. `bytes` must not be empty.
pub fn sniff(bytes: &[u8]) -> Sniffed {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Jpeg;
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Png;
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Sniffed::Gif;
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" {
        return match &bytes[8..12] {
            b"WEBP" => Sniffed::Webp,
            b"AVI " => Sniffed::Refused("AVI video (convert to MP4 with H.264)"),
            b"WAVE" => Sniffed::Refused("WAV audio"),
            _ => Sniffed::Refused("RIFF container"),
        };
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return match &bytes[8..12] {
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Sniffed::Refused("HEIF/HEIC image (export as JPEG)")
            }
            b"avif" | b"avis" => Sniffed::Refused("AVIF image (export as JPEG or PNG)"),
            b"qt  " => Sniffed::Refused("QuickTime MOV video (re-export as MP4)"),
            b"crx " => Sniffed::Refused("Canon RAW image"),
            _ => Sniffed::Mp4,
        };
    }
    if let Some(what) = binary_signature(bytes) {
        return Sniffed::Refused(what);
    }
    text_or_markup(bytes)
}

fn binary_signature(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let table: &[(&[u8], &'static str)] = &[
        (b"%PDF-", "PDF document"),
        (b"PK\x03\x04", "ZIP archive (or an Office document)"),
        (b"PK\x05\x06", "ZIP archive (empty)"),
        (b"PK\x07\x08", "ZIP archive (spanned)"),
        (b"Rar!\x1a\x07", "RAR archive"),
        (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
        (b"\x1f\x8b", "gzip archive"),
        (b"BZh", "bzip2 archive"),
        (b"\xfd7zXZ\x00", "xz archive"),
        (b"\x28\xb5\x2f\xfd", "zstd archive"),
        (b"\x7fELF", "ELF executable"),
        (b"MZ", "Windows executable"),
        (b"\xfe\xed\xfa\xce", "Mach-O executable"),
        (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
        (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
        (b"\xca\xfe\xba\xbe", "Mach-O universal binary or Java class"),
        (b"\0asm", "WebAssembly module"),
        (b"#!", "script"),
        (b"II*\0", "TIFF image (export as JPEG or PNG)"),
        (b"MM\0*", "TIFF image (export as JPEG or PNG)"),
        (b"BM", "BMP image (export as PNG)"),
        (b"\0\0\x01\0", "ICO icon"),
        (b"8BPS", "Photoshop document (export as JPEG or PNG)"),
        (
            b"\x1a\x45\xdf\xa3",
            "Matroska/WebM video (convert to MP4 with H.264)",
        ),
        (b"OggS", "Ogg media"),
        (b"ID3", "MP3 audio"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "legacy Office document",
        ),
        (b"{\\rtf", "RTF document"),
        (b"\xff\xfe", "UTF-16 text (save the text as UTF-8)"),
        (b"\xfe\xff", "UTF-16 text (save the text as UTF-8)"),
    ];
    for (magic, what) in table {
        if starts(magic) {
            return Some(what);
        }
    }
    if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
        return Some("tar archive");
    }
    if bytes.len() >= 8 && (&bytes[4..8] == b"mdat" || &bytes[4..8] == b"moov") {
        return Some("MP4 without an ftyp box (re-export as MP4)");
    }
    None
}

fn text_or_markup(bytes: &[u8]) -> Sniffed {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(body) else {
        return Sniffed::Refused(
            "binary data or non-UTF-8 text (if this is a warning text, save it as UTF-8, not GBK)",
        );
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Sniffed::Refused("binary data with control characters");
    }
    let head: String = text
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    let head = head.trim_start();
    if head.contains("<svg") {
        return Sniffed::Refused("SVG image (export as PNG)");
    }
    let html_markers = [
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
        "<meta",
        "<div",
        "<style",
    ];
    if html_markers.iter().any(|m| head.contains(m)) {
        return Sniffed::Refused("HTML document");
    }
    if head.starts_with("<?xml") {
        return Sniffed::Refused("XML document");
    }
    Sniffed::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_it_refuses() {
        assert_eq!(sniff(b"%PDF-1.7 ..."), Sniffed::Refused("PDF document"));
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Sniffed::Refused("SVG image (export as PNG)")
        );
        assert_eq!(
            sniff(b"  <!DOCTYPE html><html></html>"),
            Sniffed::Refused("HTML document")
        );
        assert_eq!(sniff("谨防电信诈骗".as_bytes()), Sniffed::Text);
        assert_eq!(sniff(b"\xef\xbb\xbf\xe8\xb0\xa8"), Sniffed::Text);
    }

    #[test]
    fn gbk_text_is_refused_with_a_hint() {
        // "谨防" in GBK.
        let Sniffed::Refused(what) = sniff(&[0xbd, 0xf7, 0xb7, 0xc0]) else {
            panic!("gbk accepted")
        };
        assert!(what.contains("UTF-8"), "{what}");
    }
}
