use super::*;
use crate::compliance::{evaluate_day, Play, RuleSpec};
use crate::store::ConfirmationRow;

fn input(lang: Lang) -> ReportInput {
    let rules = vec![RuleSpec {
        rule_id: "door-gap".into(),
        max_gap_seconds: Some(300),
        min_warning_share: None,
    }];
    let base = 1_796_000_000_000;
    let good: Vec<Play> = (0..12)
        .map(|i| Play {
            started_at: base + i * 300_000,
            ended_at: Some(base + (i + 1) * 300_000),
            is_warning: i % 2 == 0,
            clock_suspect: false,
            bridge_unconfirmed: false,
            received_at: base + 4_000_000,
        })
        .collect();
    let window = [(base, base + 3_600_000)];
    let entries = vec![
        ComplianceEntry {
            screen_id: "gaogang-door".into(),
            site_id: "icbc-gaogang".into(),
            date: "2026-11-23".into(),
            day: evaluate_day(&window, &good, &rules, base + 10_000_000),
        },
        ComplianceEntry {
            screen_id: "gaogang-door".into(),
            site_id: "icbc-gaogang".into(),
            date: "2026-11-24".into(),
            day: evaluate_day(&window, &[], &rules, base + 10_000_000),
        },
    ];
    let confirmation = ConfirmationRow {
        id: "cf-1".into(),
        seq: 1,
        screen_id: "gaogang-door".into(),
        site_id: "icbc-gaogang".into(),
        week: "2026-W48".into(),
        period_from: base,
        period_until: base + 7 * 86_400_000,
        verdict: crate::store::BranchVerdict::Problem,
        note: "=HYPERLINK(\"x\") 门口屏幕周二黑屏, \"待修\"".into(),
        photo_sha256: None,
        corrects: None,
        evidence: serde_json::json!({}),
        confirmed_by: "u-branch".into(),
        confirmed_at: base + 20_000_000,
    };
    ReportInput {
        lang,
        scope_kind: "site",
        scope_id: "icbc-gaogang".into(),
        sites: vec![SiteRow {
            id: "icbc-gaogang".into(),
            organisation_id: "icbc".into(),
            name: "工商银行高港支行".into(),
        }],
        screens: vec![ScreenRow {
            id: "gaogang-door".into(),
            site_id: "icbc-gaogang".into(),
            name: "门口条屏".into(),
            profile_id: "door".into(),
            tags: vec![],
            timezone: "Asia/Shanghai".into(),
            opening_hours: "mon-sun 09:00-10:00".into(),
        }],
        entries,
        confirmations: vec![ListedConfirmation {
            entry: confirmation,
            corrected_by: None,
        }],
        usernames: [("u-branch".to_owned(), "gaogang".to_owned())].into(),
        from: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        generated_at: base + 30_000_000,
    }
}

#[test]
fn every_language_has_every_report_key() {
    let keys = |lang: Lang| -> Vec<&String> {
        lang.catalogue()
            .keys()
            .filter(|k| k.starts_with("report_"))
            .collect()
    };
    assert!(keys(Lang::ZhCn).len() > 50);
    assert_eq!(keys(Lang::ZhCn), keys(Lang::En));
}

#[test]
fn csv_starts_with_the_bom_and_has_a_row_per_screen_day_and_confirmation() {
    let csv = Report::new(input(Lang::ZhCn)).csv();
    assert!(csv.starts_with(BOM));
    let text = std::str::from_utf8(&csv[3..]).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    // Issue 19, point 7: the column titles are the first row (Excel sorts
    // and filters from A1); the title lines follow the tables.
    assert_eq!(
        lines[0],
        Report::new(input(Lang::ZhCn))
            .days_table()
            .columns
            .join(",")
    );
    assert!(lines[0].starts_with("网点编号,"), "{}", lines[0]);
    assert!(lines[1].starts_with("icbc-gaogang,"), "{}", lines[1]);
    let title = lines
        .iter()
        .position(|l| *l == "防诈骗提示播放合规报告,")
        .expect("title line");
    let confirmations = lines
        .iter()
        .position(|l| l.starts_with("2026-W48,"))
        .unwrap();
    assert!(title > confirmations, "the title block follows the tables");
    let day_rows: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("icbc-gaogang,"))
        .collect();
    assert_eq!(day_rows.len(), 2, "{text}");
    assert!(
        day_rows[0].starts_with("icbc-gaogang,工商银行高港支行,gaogang-door,门口条屏,2026-11-23,合规,3600,3600,0,300,50.0%,12,"),
        "{}",
        day_rows[0]
    );
    assert!(
        day_rows[1].starts_with("icbc-gaogang,工商银行高港支行,gaogang-door,门口条屏,2026-11-24,无法判定,3600,0,3600,3600,,0,"),
        "{}",
        day_rows[1]
    );
    assert!(day_rows[1].ends_with("no_records"), "{}", day_rows[1]);
    // The confirmation, with the note quoted and defused as a formula.
    let conf = lines
        .iter()
        .find(|l| l.starts_with("2026-W48,"))
        .expect("confirmation row");
    assert!(
        conf.contains("有问题,\"'=HYPERLINK(\"\"x\"\") 门口屏幕周二黑屏, \"\"待修\"\"\",gaogang,"),
        "{conf}"
    );
    let summary = lines.iter().find(|l| l.starts_with("合计,")).unwrap();
    assert!(
        summary.contains("合规 1") && summary.contains("无法判定 1"),
        "{summary}"
    );
}

#[test]
fn csv_in_english() {
    let csv = Report::new(input(Lang::En)).csv();
    let text = std::str::from_utf8(&csv[3..]).unwrap();
    assert!(text.contains(",compliant,3600,"), "{text}");
    assert!(text.contains(",unknown,3600,"), "{text}");
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn number_at(bytes: &[u8], at: usize) -> usize {
    let digits: Vec<u8> = bytes[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).unwrap().parse().unwrap()
}

/// Checks the cross-reference table: every offset points at its object.
pub(crate) fn check_pdf_structure(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-"), "no PDF header");
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    let tail = pdf.len() - 64;
    let at = find(pdf, b"startxref", tail).expect("startxref") + "startxref".len();
    let xref = number_at(pdf, at);
    assert!(
        pdf[xref..].starts_with(b"xref\n0 "),
        "no xref table at {xref}"
    );
    let count = number_at(pdf, xref + "xref\n0 ".len());
    assert!(count > 10);
    let first = find(pdf, b"\n", xref + 5).unwrap() + 1;
    for n in 1..count {
        // Each entry is exactly 20 bytes: "oooooooooo ggggg n\r\n".
        let entry = &pdf[first + 20 * n..first + 20 * n + 20];
        let offset = number_at(entry, 0);
        assert!(
            pdf[offset..].starts_with(format!("{n} 0 obj").as_bytes()),
            "object {n} is not at {offset}"
        );
    }
}

/// The bytes of every `/FontFile2` stream.
pub(crate) fn embedded_fonts(pdf: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = find(pdf, b"/FontFile2 ", from) {
        from = at + 1;
        let id = number_at(pdf, at + "/FontFile2 ".len());
        let obj = find(pdf, format!("\n{id} 0 obj").as_bytes(), 0).unwrap();
        let length = number_at(pdf, find(pdf, b"/Length ", obj).unwrap() + "/Length ".len());
        let start = find(pdf, b"stream\n", obj).unwrap() + "stream\n".len();
        out.push(pdf[start..start + length].to_vec());
    }
    out
}

#[test]
fn pdf_parses_and_embeds_the_chinese_font_subset() {
    let pdf = Report::new(input(Lang::ZhCn)).pdf().unwrap();
    check_pdf_structure(&pdf);
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/BaseFont /LCCJKF+DroidSansFallback"));
    assert!(text.contains("/Encoding /Identity-H"));
    assert!(text.contains("/ToUnicode"));
    let fonts = embedded_fonts(&pdf);
    assert_eq!(fonts.len(), 2);
    // The embedded CJK subset is a font that a reader can parse, and only
    // a small part of the full subset shipped with the server.
    for font in &fonts {
        ttf_parser::Face::parse(font, 0).expect("embedded font parses");
    }
    assert!(
        fonts[1].len() < pdf::CJK_FONT.len() / 10,
        "{}",
        fonts[1].len()
    );
    assert!(pdf.len() < 200_000, "{}", pdf.len());
    // ToUnicode maps glyphs back to the title's characters (合 = U+5408).
    assert!(text.contains("<5408>"), "no ToUnicode entry for 合");
}

#[test]
fn long_reports_break_into_pages() {
    let mut long = input(Lang::En);
    let first = long.entries[0].clone();
    long.entries = (0..200).map(|_| first.clone()).collect();
    let pdf = Report::new(long).pdf().unwrap();
    check_pdf_structure(&pdf);
    let pages = String::from_utf8_lossy(&pdf)
        .matches("/Type /Page\n")
        .count()
        + String::from_utf8_lossy(&pdf)
            .matches("/Type /Page ")
            .count();
    assert!(pages >= 5, "{pages} pages");
}

#[test]
fn csv_cells_are_quoted_and_defused() {
    assert_eq!(csv_cell("plain"), "plain");
    assert_eq!(csv_cell("a,b"), "\"a,b\"");
    assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_cell("=1+1"), "'=1+1");
    assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
}

/// Issue 19, point 7: no column title or reason is cut off; every line of
/// a cell fits its column and the lines together are the whole text.
#[test]
fn pdf_cells_wrap_instead_of_being_cut_off() {
    for lang in [Lang::ZhCn, Lang::En] {
        let (layout, _) = pdf::lay_out(&Report::new(input(lang))).unwrap();
        let gap = Report::new(input(lang)).t("col_gap");
        assert!(
            layout.cells.iter().any(|(text, _, _, _)| *text == gap),
            "the {gap} title is drawn whole"
        );
        for (text, lines, widest, room) in &layout.cells {
            assert!(
                widest <= room,
                "{lines:?} is wider ({widest}) than its column ({room})"
            );
            assert!(!text.contains('…'), "{text} was cut");
        }
        let wrapped = layout.cells.iter().find(|(t, _, _, _)| *t == gap).unwrap();
        if lang == Lang::ZhCn {
            assert_eq!(wrapped.1.len(), 2, "{:?}", wrapped.1);
        }
    }
}

/// Issue 19, point 7: a table's heading is never left alone at the bottom
/// of a page, however many rows come before it.
#[test]
fn pdf_headings_stay_with_their_table() {
    let first = input(Lang::ZhCn).entries[0].clone();
    for n in 1..80 {
        let mut long = input(Lang::ZhCn);
        long.entries = (0..n).map(|_| first.clone()).collect();
        let (layout, _) = pdf::lay_out(&Report::new(long)).unwrap();
        for (heading, heading_page, first_row_page) in &layout.headings {
            assert_eq!(
                heading_page, first_row_page,
                "with {n} days, {heading} is on page {heading_page} and its first row on {first_row_page}"
            );
        }
    }
}
