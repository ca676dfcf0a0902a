//! Writes the project's sample library pack, `gaogang-2026-W48`, as a
//! directory and as a zip:
//!
//! ```text
//! cargo run -p ledcast-pack --example make_sample_pack -- media/packs
//! ```
//!
//! The posters are drawn by `ledcast_media::samples` (no third-party
//! images); the output is deterministic (fixed zip timestamps).

use std::io::Write;
use std::path::Path;

use ledcast_media::samples::{poster_png, PosterTheme};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

const EDITION: &str = "gaogang-2026-W48";

const MANIFEST: &str = r#"# Sample weekly edition of the county anti-fraud library (made by ledcast).
# Format: docs/pack-format.md
edition = "gaogang-2026-W48"
publisher = "泰州市高港区反诈中心"
issued = 2026-11-23
# A sample: its dates are written as if today were 2026-11-30. The importer
# moves every date by the days from then to the day it imports, so the
# sample behaves the same on any date. County packs leave this out.
sample_today = 2026-11-30

[[material]]
kind = "poster"
file = "posters/refund-task.png"
title = "刷单返利都是诈骗"
category = "刷单返利"
screens = ["bank-door", "hall"]
valid_from = 2026-11-23
valid_until = 2026-12-06          # a date: valid through the whole day (UTC+08:00)

[[material]]
kind = "poster"
file = "posters/investment.png"
title = "高收益投资理财？小心是诈骗"
category = "虚假投资理财"
screens = ["bank-lobby", "hall"]
valid_from = 2026-11-23T08:00:00+08:00
valid_until = 2026-12-07T00:00:00+08:00

[[material]]
kind = "poster"
file = "posters/fake-police.png"
title = "公检法不会电话办案"
category = "冒充公检法"
screens = ["atm", "bank-door"]
valid_from = 2026-11-23
valid_until = 2026-12-20

[[material]]
kind = "comic"
file = "comics/loan-fee.png"
title = "贷款先交钱？都是骗局"
category = "虚假贷款"
screens = ["hall", "bank-lobby"]
valid_from = 2026-11-23
valid_until = 2026-12-06

[[material]]
kind = "text"
title = "自称客服要退款？先挂电话"
category = "冒充客服"
text = "自称电商客服说要给您退款、理赔的，请先挂断电话，通过官方APP核实！"
screens = ["bank-door", "bank-counter"]
valid_from = 2026-11-23
valid_until = 2026-12-06

[[material]]
kind = "text"
title = "游戏装备交易走官方平台"
category = "网络游戏交易"
text = "游戏账号、装备私下低价交易都是骗局，请走官方平台！"
screens = ["bank-counter", "atm"]
valid_from = 2026-11-23
valid_until = 2026-12-06
"#;

struct Poster {
    path: &'static str,
    width: u32,
    height: u32,
    headline: &'static str,
    subline: &'static str,
    top: [u8; 3],
    bottom: [u8; 3],
}

const POSTERS: &[Poster] = &[
    Poster {
        path: "posters/refund-task.png",
        width: 960,
        height: 540,
        headline: "刷单返利都是诈骗",
        subline: "先给甜头 再骗本金",
        top: [120, 20, 20],
        bottom: [200, 60, 40],
    },
    Poster {
        path: "posters/investment.png",
        width: 960,
        height: 540,
        headline: "高收益投资理财？",
        subline: "小心是诈骗",
        top: [20, 40, 100],
        bottom: [40, 90, 160],
    },
    Poster {
        path: "posters/fake-police.png",
        width: 960,
        height: 540,
        headline: "公检法不会电话办案",
        subline: "更不会要求转账",
        top: [10, 30, 60],
        bottom: [30, 70, 120],
    },
    Poster {
        path: "comics/loan-fee.png",
        width: 720,
        height: 720,
        headline: "贷款先交钱？",
        subline: "都是骗局",
        top: [30, 90, 40],
        bottom: [80, 150, 70],
    },
];

/// The pack's files: `(path, bytes)`, `pack.toml` first.
fn files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![("pack.toml".to_owned(), MANIFEST.as_bytes().to_vec())];
    for p in POSTERS {
        let theme = PosterTheme {
            headline: p.headline,
            subline: p.subline,
            top: p.top,
            bottom: p.bottom,
            ink: [255, 230, 60],
            texture: false,
        };
        files.push((p.path.to_owned(), poster_png(p.width, p.height, &theme)));
    }
    files
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "media/packs".to_owned());
    let out = Path::new(&out);
    let files = files();
    let dir = out.join(EDITION);
    for (path, bytes) in &files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().expect("a file has a parent"))
            .expect("create the pack directory");
        std::fs::write(&target, bytes).expect("write a pack file");
        println!("wrote {} ({} bytes)", target.display(), bytes.len());
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, bytes) in &files {
        // PNGs are already compressed; deflating them again only costs time.
        let method = if path.ends_with(".png") {
            CompressionMethod::Stored
        } else {
            CompressionMethod::Deflated
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .unix_permissions(0o644);
        zip.start_file(path.as_str(), options)
            .expect("start a zip entry");
        zip.write_all(bytes).expect("write a zip entry");
    }
    let bytes = zip.finish().expect("finish the zip").into_inner();
    let zip_path = out.join(format!("{EDITION}.zip"));
    std::fs::write(&zip_path, &bytes).expect("write the zip");
    println!("wrote {} ({} bytes)", zip_path.display(), bytes.len());
}
