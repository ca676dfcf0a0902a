//! The PDF report: A4 landscape, tables drawn with `pdf-writer`, text in two
//! embedded TrueType fonts (DejaVu Sans for Latin, Droid Sans Fallback for
//! Chinese), each subset per document to the glyphs used (`subsetter`) and
//! written as a CID font with a ToUnicode map, so text can be searched and
//! copied. Cells too wide for their column wrap onto more lines (at spaces
//! where a Latin word allows, anywhere between Chinese characters), so no
//! column title or reason is cut off; a table's heading starts a new page
//! rather than stand alone at the bottom of one.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use subsetter::GlyphRemapper;

use super::Report;

/// Droid Sans Fallback cut to GB 2312 (Apache-2.0).
pub(crate) const CJK_FONT: &[u8] =
    include_bytes!("../../assets/fonts/DroidSansFallback-gb2312.ttf");
/// DejaVu Sans cut to ASCII and Latin-1 (Bitstream Vera licence).
pub(crate) const LATIN_FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-latin.ttf");

const PAGE_W: f32 = 842.0;
const PAGE_H: f32 = 595.0;
const MARGIN: f32 = 36.0;
const ROW_H: f32 = 13.0;
const TEXT_SIZE: f32 = 7.5;
/// Each further line of a wrapped cell adds this much to its row.
const LINE_H: f32 = 9.0;
/// A heading's own height: the space above it, its line, the space below.
const HEADING_H: f32 = 8.0 + 11.0 * 1.4 + 4.0;

struct FontSlot {
    face: ttf_parser::Face<'static>,
    data: &'static [u8],
    resource: Name<'static>,
    base_name: &'static [u8],
    remap: GlyphRemapper,
    /// New glyph id → the character it shows.
    chars: BTreeMap<u16, char>,
    /// New glyph id → advance in 1/1000 em.
    widths: BTreeMap<u16, f32>,
}

impl FontSlot {
    fn new(
        data: &'static [u8],
        resource: Name<'static>,
        base_name: &'static [u8],
    ) -> Result<FontSlot, String> {
        let face = ttf_parser::Face::parse(data, 0).map_err(|e| format!("report font: {e}"))?;
        Ok(FontSlot {
            face,
            data,
            resource,
            base_name,
            remap: GlyphRemapper::new(),
            chars: BTreeMap::new(),
            widths: BTreeMap::new(),
        })
    }

    fn units(&self) -> f32 {
        f32::from(self.face.units_per_em())
    }

    /// Advance of glyph `old` in 1/1000 em.
    fn advance(&self, old: ttf_parser::GlyphId) -> f32 {
        f32::from(self.face.glyph_hor_advance(old).unwrap_or(0)) * 1000.0 / self.units()
    }

    /// Registers `c` (glyph `old`) and returns its id in the subset.
    fn use_glyph(&mut self, old: ttf_parser::GlyphId, c: char) -> u16 {
        let new = self.remap.remap(old.0);
        self.chars.entry(new).or_insert(c);
        let advance = self.advance(old);
        self.widths.insert(new, advance);
        new
    }
}

struct Fonts {
    slots: [FontSlot; 2],
}

/// Which slot shows `c`, its glyph there, and the character actually shown.
fn pick(fonts: &Fonts, c: char) -> (usize, ttf_parser::GlyphId, char) {
    for (i, slot) in fonts.slots.iter().enumerate() {
        if let Some(g) = slot.face.glyph_index(c) {
            return (i, g, c);
        }
    }
    let g = fonts.slots[0]
        .face
        .glyph_index('?')
        .unwrap_or(ttf_parser::GlyphId(0));
    (0, g, '?')
}

impl Fonts {
    fn new() -> Result<Fonts, String> {
        Ok(Fonts {
            slots: [
                FontSlot::new(LATIN_FONT, Name(b"F1"), b"LCLATN+DejaVuSans")?,
                FontSlot::new(CJK_FONT, Name(b"F2"), b"LCCJKF+DroidSansFallback")?,
            ],
        })
    }

    /// Width of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| {
                let (i, g, _) = pick(self, c);
                self.slots[i].advance(g)
            })
            .sum::<f32>()
            * size
            / 1000.0
    }

    /// `text` in lines that each fit `max` points: broken after a space or
    /// between two Chinese characters, or inside a word too long for a line.
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        // Pieces that stay together: a Latin word with its trailing spaces,
        // or one character that is not ASCII.
        let mut pieces: Vec<String> = Vec::new();
        for c in text.chars() {
            match pieces.last_mut() {
                Some(last)
                    if c.is_ascii() && last.is_ascii() && !(last.ends_with(' ') && c != ' ') =>
                {
                    last.push(c)
                }
                _ => pieces.push(c.to_string()),
            }
        }
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        for piece in pieces {
            if self.width(format!("{line}{piece}").trim_end(), size) <= max {
                line.push_str(&piece);
                continue;
            }
            if !line.trim().is_empty() {
                lines.push(line.trim_end().to_owned());
                line = String::new();
            }
            for c in piece.chars() {
                if !line.is_empty() && self.width(&format!("{line}{c}"), size) > max {
                    lines.push(line.trim_end().to_owned());
                    line = String::new();
                }
                if !(line.is_empty() && c == ' ') {
                    line.push(c);
                }
            }
        }
        if !line.trim().is_empty() || lines.is_empty() {
            lines.push(line.trim_end().to_owned());
        }
        lines
    }

    /// Shows `text` with its left baseline at `(x, y)`.
    fn draw(&mut self, content: &mut Content, x: f32, y: f32, size: f32, text: &str) {
        let mut x = x;
        let mut runs: Vec<(usize, Vec<u8>, f32)> = Vec::new();
        for c in text.chars() {
            let (i, g, shown) = pick(self, c);
            let slot = &mut self.slots[i];
            let new = slot.use_glyph(g, shown);
            let advance = slot.advance(g) * size / 1000.0;
            match runs.last_mut() {
                Some((last, bytes, w)) if *last == i => {
                    bytes.extend_from_slice(&new.to_be_bytes());
                    *w += advance;
                }
                _ => runs.push((i, new.to_be_bytes().to_vec(), advance)),
            }
        }
        for (i, bytes, w) in runs {
            content.begin_text();
            content.set_font(self.slots[i].resource, size);
            content.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, y]);
            content.show(Str(&bytes));
            content.end_text();
            x += w;
        }
    }
}

struct Column {
    title: String,
    width: f32,
    right: bool,
}

fn duration(seconds: i64) -> String {
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

pub(crate) struct Layout {
    fonts: Fonts,
    pages: Vec<Content>,
    y: f32,
    page_label: String,
    /// What was laid out, for the tests: each table's heading with the page
    /// it is on and the page of its first row below the column titles.
    pub(crate) headings: Vec<(String, usize, usize)>,
    /// Every cell drawn: its text, the lines it was drawn in, the widest
    /// line and the room its column had (points).
    pub(crate) cells: Vec<(String, Vec<String>, f32, f32)>,
}

impl Layout {
    fn new_page(&mut self) {
        let mut content = Content::new();
        let n = self.pages.len() + 1;
        let label = self.page_label.replace("{n}", &n.to_string());
        let w = self.fonts.width(&label, TEXT_SIZE);
        content.set_fill_gray(0.3);
        self.fonts.draw(
            &mut content,
            PAGE_W - MARGIN - w,
            MARGIN / 2.0,
            TEXT_SIZE,
            &label,
        );
        content.set_fill_gray(0.0);
        self.pages.push(content);
        self.y = PAGE_H - MARGIN;
    }

    /// Index of the current page (making the first one if needed).
    fn page(&mut self) -> usize {
        if self.pages.is_empty() {
            self.new_page();
        }
        self.pages.len() - 1
    }

    fn text(&mut self, x: f32, size: f32, text: &str) {
        self.page();
        if self.y - size * 1.4 < MARGIN {
            self.new_page();
        }
        self.y -= size * 1.4;
        let (y, page) = (self.y, self.page());
        self.fonts.draw(&mut self.pages[page], x, y, size, text);
    }

    /// Every cell of a row in lines that fit its column.
    fn cell_lines(&self, columns: &[Column], cells: &[String]) -> Vec<Vec<String>> {
        columns
            .iter()
            .zip(cells)
            .map(|(column, cell)| self.fonts.wrap(cell, TEXT_SIZE, column.width - 4.0))
            .collect()
    }

    /// The height of a row whose cells are `lines`.
    fn row_height(lines: &[Vec<String>]) -> f32 {
        let most = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
        ROW_H + (most - 1) as f32 * LINE_H
    }

    fn row(&mut self, columns: &[Column], lines: &[Vec<String>], header: bool) {
        let top = self.y;
        let y = top - Self::row_height(lines);
        let page = self.page();
        let content = &mut self.pages[page];
        if header {
            content.set_fill_gray(0.88);
            content.rect(MARGIN, y, PAGE_W - 2.0 * MARGIN, top - y);
            content.fill_nonzero();
            content.set_fill_gray(0.0);
        }
        let mut x = MARGIN;
        for (column, cell) in columns.iter().zip(lines) {
            let widest = cell
                .iter()
                .map(|l| self.fonts.width(l, TEXT_SIZE))
                .fold(0.0, f32::max);
            self.cells
                .push((cell.concat(), cell.clone(), widest, column.width - 4.0));
            for (k, text) in cell.iter().enumerate() {
                let tx = if column.right {
                    x + column.width - 2.0 - self.fonts.width(text, TEXT_SIZE)
                } else {
                    x + 2.0
                };
                let baseline = top - (ROW_H - 3.5) - k as f32 * LINE_H;
                self.fonts.draw(content, tx, baseline, TEXT_SIZE, text);
            }
            x += column.width;
        }
        content.set_line_width(0.3);
        content.set_stroke_gray(0.6);
        content.move_to(MARGIN, y);
        content.line_to(PAGE_W - MARGIN, y);
        content.stroke();
        self.y = y;
    }

    fn table(&mut self, heading: &str, columns: &[Column], rows: &[Vec<String>], empty: &str) {
        let titles: Vec<String> = columns.iter().map(|c| c.title.clone()).collect();
        let title_lines = self.cell_lines(columns, &titles);
        let row_lines: Vec<Vec<Vec<String>>> =
            rows.iter().map(|r| self.cell_lines(columns, r)).collect();
        // The heading keeps its column titles and first row on its page.
        let first = row_lines.first().map_or(ROW_H, |l| Self::row_height(l));
        let keep = HEADING_H + Self::row_height(&title_lines) + first;
        if !self.pages.is_empty() && self.y - keep < MARGIN {
            self.new_page();
        }
        self.y -= 8.0;
        self.text(MARGIN, 11.0, heading);
        let heading_page = self.page();
        self.y -= 4.0;
        self.row(columns, &title_lines, true);
        if rows.is_empty() {
            self.text(MARGIN + 2.0, TEXT_SIZE, empty);
        }
        let first_row_page = match row_lines.first() {
            Some(lines) if self.y - Self::row_height(lines) < MARGIN => self.page() + 1,
            _ => self.page(),
        };
        self.headings
            .push((heading.to_owned(), heading_page, first_row_page));
        for lines in &row_lines {
            if self.y - Self::row_height(lines) < MARGIN {
                self.new_page();
                self.row(columns, &title_lines, true);
            }
            self.row(columns, lines, false);
        }
    }
}

fn col(title: String, width: f32, right: bool) -> Column {
    Column {
        title,
        width,
        right,
    }
}

/// Renders the report.
pub(crate) fn render(report: &Report) -> Result<Vec<u8>, String> {
    let (layout, title) = lay_out(report)?;
    write(layout, &title)
}

/// Lays the report out on pages (nothing written yet); also its title.
pub(crate) fn lay_out(report: &Report) -> Result<(Layout, String), String> {
    let mut layout = Layout {
        fonts: Fonts::new()?,
        pages: Vec::new(),
        y: PAGE_H - MARGIN,
        page_label: report.t("page"),
        headings: Vec::new(),
        cells: Vec::new(),
    };
    let header = report.header_lines();
    let title = header[0].0.clone();
    layout.text(MARGIN, 16.0, &title);
    layout.y -= 4.0;
    for (label, value) in header.iter().skip(1) {
        layout.text(MARGIN, 9.0, &format!("{label}: {value}"));
    }
    layout.text(MARGIN, 9.0, &report.summary());

    let t = |k: &str| report.t(k);
    let day_columns = vec![
        col(t("col_site"), 84.0, false),
        col(t("col_screen"), 96.0, false),
        col(t("col_date"), 56.0, false),
        col(t("col_status"), 54.0, false),
        col(t("col_opening"), 42.0, true),
        col(t("col_online"), 42.0, true),
        col(t("col_missing"), 42.0, true),
        col(t("col_gap"), 52.0, true),
        col(t("col_share"), 40.0, true),
        col(t("col_records"), 44.0, true),
        col(t("col_evidence_until"), 86.0, false),
        col(t("col_reasons"), 132.0, false),
    ];
    let days = report.days_table();
    // days_table columns: 0 site id, 1 site, 2 screen id, 3 screen, 4 date,
    // 5 status, 6 opening, 7 online, 8 missing, 9 gap, 10 share, 11 records,
    // 12 until, 13 received, 14 rules, 15 reasons, 16 codes.
    let secs = |s: &str| s.parse::<i64>().map(duration).unwrap_or_default();
    let day_rows: Vec<Vec<String>> = days
        .rows
        .iter()
        .map(|r| {
            vec![
                r[1].clone(),
                r[3].clone(),
                r[4].clone(),
                r[5].clone(),
                secs(&r[6]),
                secs(&r[7]),
                secs(&r[8]),
                secs(&r[9]),
                r[10].clone(),
                r[11].clone(),
                r[12].clone(),
                r[15].clone(),
            ]
        })
        .collect();
    layout.table(&days.heading, &day_columns, &day_rows, &t("none"));

    let conf = report.confirmations_table();
    // 0 week, 1 site, 2 screen id, 3 screen, 4 verdict, 5 note, 6 by, 7 at,
    // 8 id, 9 corrects, 10 corrected by, 11 photo.
    let conf_columns = vec![
        col(t("col_week"), 50.0, false),
        col(t("col_site"), 90.0, false),
        col(t("col_screen"), 100.0, false),
        col(t("col_verdict"), 70.0, false),
        col(t("col_note"), 200.0, false),
        col(t("col_by"), 60.0, false),
        col(t("col_at"), 90.0, false),
        col(t("col_id"), 55.0, false),
        col(t("col_corrected_by"), 55.0, false),
    ];
    let conf_rows: Vec<Vec<String>> = conf
        .rows
        .iter()
        .map(|r| {
            vec![
                r[0].clone(),
                r[1].clone(),
                r[3].clone(),
                r[4].clone(),
                r[5].clone(),
                r[6].clone(),
                r[7].clone(),
                r[8].clone(),
                r[10].clone(),
            ]
        })
        .collect();
    layout.table(&conf.heading, &conf_columns, &conf_rows, &t("none"));
    Ok((layout, title))
}

fn write(layout: Layout, title: &str) -> Result<Vec<u8>, String> {
    let Layout { fonts, pages, .. } = layout;
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    let font_refs: Vec<[Ref; 5]> = fonts
        .slots
        .iter()
        .map(|_| [alloc(), alloc(), alloc(), alloc(), alloc()])
        .collect();
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();

    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(p, _)| *p))
        .count(page_refs.len() as i32);
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("ledcast"));
    for ((page_ref, content_ref), content) in page_refs.iter().zip(pages) {
        let mut page = pdf.page(*page_ref);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree);
        page.contents(*content_ref);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (slot, refs) in fonts.slots.iter().zip(&font_refs) {
            font_dict.pair(slot.resource, refs[0]);
        }
        font_dict.finish();
        resources.finish();
        page.finish();
        pdf.stream(*content_ref, &content.finish());
    }
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    for (slot, refs) in fonts.slots.iter().zip(&font_refs) {
        let [type0, cid, descriptor, file, cmap] = *refs;
        let subset = subsetter::subset(slot.data, 0, &slot.remap)
            .map_err(|e| format!("subsetting a report font: {e}"))?;
        pdf.type0_font(type0)
            .base_font(Name(slot.base_name))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(Name(slot.base_name))
            .system_info(system_info)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        let count = slot.remap.num_gids();
        cid_font.widths().consecutive(
            0,
            (0..count).map(|g| slot.widths.get(&g).copied().unwrap_or(0.0)),
        );
        cid_font.finish();
        let scale = 1000.0 / slot.units();
        let bbox = slot.face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(Name(slot.base_name))
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ))
            .italic_angle(0.0)
            .ascent(f32::from(slot.face.ascender()) * scale)
            .descent(f32::from(slot.face.descender()) * scale)
            .cap_height(f32::from(slot.face.capital_height().unwrap_or(700)) * scale)
            .stem_v(80.0)
            .font_file2(file);
        let mut stream = pdf.stream(file, &subset);
        stream.pair(Name(b"Length1"), subset.len() as i32);
        stream.finish();
        let mut unicode = UnicodeCmap::new(Name(b"Custom"), system_info);
        for (g, c) in &slot.chars {
            unicode.pair(*g, *c);
        }
        pdf.stream(cmap, &unicode.finish());
    }
    Ok(pdf.finish())
}
