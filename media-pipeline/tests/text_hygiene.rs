//! Text hygiene at ingest: what people paste from WeChat or Word becomes
//! what an LED can show, with a note saying what changed; every character
//! of GB2312 and CJK Extension A is drawable; anything else is refused by
//! name with a concrete hint.

use ledcast_media::{check_glyphs, ingest, IngestError, Limits};

fn text_of(input: &str) -> (String, Vec<String>) {
    let m = ingest(input.as_bytes(), "t.txt", &Limits::default()).unwrap();
    (m.text.unwrap(), m.notes)
}

#[test]
fn invisible_format_characters_are_removed_with_a_note() {
    let pasted = "谨防\u{200B}诈骗\u{200D}！\u{00AD}请\u{FE0F}勿\u{2060}转账\u{FEFF}";
    let (text, notes) = text_of(pasted);
    assert_eq!(text, "谨防诈骗！请勿转账");
    let note = notes.iter().find(|n| n.contains("invisible")).unwrap();
    assert!(note.contains("zero-width space U+200B ×1"), "{note}");
    assert!(note.contains("soft hyphen U+00AD"), "{note}");
    assert!(note.contains("variation selector U+FE0F"), "{note}");
    assert!(note.contains("不可见"), "{note}");
    // A line separator (U+2028) is a line break, not a box reading "L SEP".
    let (text, notes) = text_of("第一行\u{2028}第二行");
    assert_eq!(text, "第一行\n第二行");
    assert!(notes.iter().any(|n| n.contains("U+2028")), "{notes:?}");
    // Clean text gets no note.
    assert!(text_of("谨防诈骗").1.is_empty());
}

#[test]
fn text_is_stored_in_nfc() {
    // "ü" as u + combining diaeresis, and a CJK compatibility ideograph.
    let (text, notes) = text_of("lu\u{0308}\u{F92C}");
    assert_eq!(text, "lü\u{90CE}");
    assert!(notes.iter().any(|n| n.contains("NFC")), "{notes:?}");
}

#[test]
fn every_gb2312_character_and_extension_a_is_drawable() {
    let gb2312 = include_str!("../fonts/gb2312.txt").trim_end();
    assert_eq!(gb2312.chars().count(), 7_445);
    assert_eq!(check_glyphs(gb2312), Ok(()));
    // The symbols the old subset refused.
    assert_eq!(check_glyphs("Ⅰ Ⅻ ≥ ≤ √ αΩ Жж ǚ ぁ ア ㈠ ㄅ"), Ok(()));
    let ext_a: String = (0x3400..=0x4DBF).filter_map(char::from_u32).collect();
    assert_eq!(ext_a.chars().count(), 6_592);
    assert_eq!(check_glyphs(&ext_a), Ok(()));
    assert_eq!(check_glyphs("䶮"), Ok(()));
}

#[test]
fn what_is_still_missing_is_refused_by_name_with_a_hint() {
    let err = ingest("谨防诈骗😀𠀀".as_bytes(), "t.txt", &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        IngestError::UnknownGlyphs {
            chars: vec!['😀', '𠀀']
        }
    );
    let message = err.to_string();
    assert!(message.contains("'😀' (U+1F600)"), "{message}");
    assert!(message.contains("emoji"), "{message}");
    assert!(message.contains("pinyin"), "{message}");
    assert!(message.contains("表情符号"), "{message}");
    assert!(message.contains("生僻字"), "{message}");
}
