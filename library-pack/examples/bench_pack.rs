//! Measures opening a generated 200-material pack and passing every
//! material through the media pipeline (what an import does, minus the
//! store):
//!
//! ```text
//! cargo run --release -p ledcast-pack --example bench_pack [-- COUNT]
//! ```

use std::fmt::Write as _;
use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use ledcast_media::samples::{poster_png, PosterTheme};
use ledcast_pack::{open_zip, PackLimits, FRAUD_CATEGORIES};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

/// A pack of `count` materials: every fourth one a text, the rest 1280×720
/// posters in distinct colours (so no two hash alike).
fn generated_pack(count: usize) -> Vec<u8> {
    let mut manifest =
        String::from("edition = \"bench-2026-W48\"\npublisher = \"bench\"\nissued = 2026-11-23\n");
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for i in 0..count {
        let category = FRAUD_CATEGORIES[i % FRAUD_CATEGORIES.len()];
        manifest.push_str("\n[[material]]\n");
        if i % 4 == 3 {
            let _ = write!(
                manifest,
                "kind = \"text\"\ntext = \"第{i}条提示：不听 不信 不转账，接到96110请及时接听！\"\n"
            );
        } else {
            let path = format!("posters/{i:03}.png");
            let _ = write!(manifest, "kind = \"poster\"\nfile = \"{path}\"\n");
            let shade = (i * 37 % 200) as u8;
            let theme = PosterTheme {
                headline: "谨防电信网络诈骗",
                subline: "不听 不信 不转账",
                top: [shade, 30, 90],
                bottom: [40, shade, 160],
                ink: [255, 230, 60],
                texture: false,
            };
            zip.start_file(path, stored).expect("start entry");
            zip.write_all(&poster_png(1280, 720, &theme))
                .expect("write entry");
        }
        let _ = write!(
            manifest,
            "title = \"素材{i}\"\ncategory = \"{category}\"\nscreens = [\"hall\"]\nvalid_from = 2026-11-23\nvalid_until = 2026-12-06\n"
        );
    }
    zip.start_file("pack.toml", SimpleFileOptions::default())
        .expect("start manifest");
    zip.write_all(manifest.as_bytes()).expect("write manifest");
    zip.finish().expect("finish").into_inner()
}

// A benchmark reads the clock; the library under test never does.
#[allow(clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let bytes = generated_pack(count);
    let (pack, open_time) = timed(|| open_zip(&bytes, &PackLimits::default()).expect("opens"));
    let media_limits = ledcast_media::Limits::default();
    let (ingested, ingest_time) = timed(|| {
        pack.entries
            .iter()
            .map(|entry| {
                let (bytes, name) = entry.ingest_input();
                ledcast_media::ingest(bytes, &name, &media_limits).expect("ingests")
            })
            .count()
    });
    let total = open_time + ingest_time;
    println!("pack: {count} materials, {} bytes zipped", bytes.len());
    println!(
        "open_zip: {:.1} ms ({:.0} materials/s)",
        open_time.as_secs_f64() * 1e3,
        count as f64 / open_time.as_secs_f64()
    );
    println!(
        "open_zip + ledcast_media::ingest of all {ingested}: {:.2} s ({:.1} materials/s)",
        total.as_secs_f64(),
        count as f64 / total.as_secs_f64()
    );
}
