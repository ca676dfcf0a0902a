//! Regenerates the demo's sample materials under `media/` and their LED
//! previews under `media/previews/`:
//!
//! ```sh
//! cargo run -p ledcast-media --example make_samples -- media
//! ```
//!
//! Posters are drawn by code (anti-fraud themes); texts are the demo's
//! warning texts; every output goes through the real pipeline (`ingest`,
//! `render`, `render_text`, `preview`), so a failing text or poster fails here.

use std::path::Path;

use ledcast_media::samples::{poster_jpeg, poster_png, PosterTheme};
use ledcast_media::{
    ingest, preview, render, ColorClass, Fit, Limits, Material, RenderProfile, Rgb,
};

struct Poster {
    file: &'static str,
    headline: &'static str,
    subline: &'static str,
    top: [u8; 3],
    bottom: [u8; 3],
    ink: [u8; 3],
}

const POSTERS: &[Poster] = &[
    Poster {
        file: "std-96110",
        headline: "96110反诈预警专线",
        subline: "接到来电请及时接听",
        top: [150, 10, 20],
        bottom: [90, 0, 10],
        ink: [255, 255, 255],
    },
    Poster {
        file: "w48-investment",
        headline: "高收益投资理财？",
        subline: "小心是诈骗",
        top: [250, 240, 220],
        bottom: [240, 200, 150],
        ink: [190, 20, 20],
    },
    Poster {
        file: "w48-refund",
        headline: "网购退款走官方平台",
        subline: "不点陌生链接 不给验证码",
        top: [20, 60, 120],
        bottom: [10, 30, 70],
        ink: [255, 220, 60],
    },
    Poster {
        file: "w48-pension",
        headline: "保健品、以房养老",
        subline: "都要多问一句",
        top: [235, 245, 235],
        bottom: [190, 220, 190],
        ink: [20, 90, 40],
    },
    Poster {
        file: "w49-loan",
        headline: "无抵押秒放贷？",
        subline: "先交费的都是诈骗",
        top: [40, 40, 40],
        bottom: [10, 10, 10],
        ink: [255, 200, 0],
    },
    Poster {
        file: "w49-game-trading",
        headline: "游戏装备低价卖",
        subline: "私下交易必被骗",
        top: [60, 20, 110],
        bottom: [20, 10, 60],
        ink: [120, 255, 200],
    },
    Poster {
        file: "notice-business-hours",
        headline: "营业时间 8:30-17:00",
        subline: "周末照常营业",
        top: [245, 245, 245],
        bottom: [220, 225, 230],
        ink: [20, 60, 140],
    },
];

const TEXTS: &[(&str, &str)] = &[
    (
        "std-text-no-transfer",
        "公检法机关不会通过电话办案，更不会要求转账到“安全账户”！",
    ),
    (
        "std-text-96110",
        "接到96110预警劝阻电话请及时接听 全民反诈 人人有责",
    ),
    (
        "counter-text-safe-account",
        "任何要求您把钱转入“安全账户”的，都是诈骗！",
    ),
    (
        "counter-text-refund",
        "客服说要给您退款并索要验证码？挂断！",
    ),
    (
        "counter-text-part-time",
        "网络刷单、点赞返利都是诈骗，先垫付就会被骗",
    ),
    (
        "notice-pension-day",
        "每月20日养老金发放日，请有序排队，谨防冒充工作人员",
    ),
];

fn profile(width: u32, height: u32, color: ColorClass, scroll: bool) -> RenderProfile {
    RenderProfile {
        width,
        height,
        color,
        video: false,
        scroll,
    }
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
    println!("{:>9} bytes  {}", bytes.len(), path.display());
}

fn save_preview(
    out: &Path,
    name: &str,
    material: &Material,
    p: &RenderProfile,
    tag: &str,
    max_width: u32,
) {
    let fit = Fit::Fit {
        background: Rgb(0, 0, 0),
    };
    let r = render(material, p, fit).unwrap_or_else(|e| panic!("{name} on {tag}: {e}"));
    let png = preview(&r.bytes, p.color, max_width).unwrap();
    write(
        &out.join("previews").join(format!("{name}@{tag}.png")),
        &png,
    );
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "media".to_string());
    let out = Path::new(&out);
    let limits = Limits::default();
    let door = profile(352, 80, ColorClass::Mono, false);
    let counter = profile(192, 32, ColorClass::Dual, false);
    let atm = profile(128, 64, ColorClass::Full, false);
    let wall = profile(1920, 360, ColorClass::Full, false);
    let lobby = profile(1920, 1080, ColorClass::Full, false);

    for (i, p) in POSTERS.iter().enumerate() {
        let theme = PosterTheme {
            headline: p.headline,
            subline: p.subline,
            top: p.top,
            bottom: p.bottom,
            ink: p.ink,
            texture: false,
        };
        let bytes = poster_png(1280, 720, &theme);
        write(&out.join("posters").join(format!("{}.png", p.file)), &bytes);
        let material = ingest(&bytes, p.file, &limits).unwrap();
        save_preview(out, p.file, &material, &door, "352x80-mono", 1408);
        save_preview(out, p.file, &material, &atm, "128x64-full", 1408);
        if i == 0 {
            // How a dense poster fares on a counter scroller, and the big screens.
            save_preview(out, p.file, &material, &counter, "192x32-dual", 1408);
            save_preview(out, p.file, &material, &wall, "1920x360-full", 1920);
            save_preview(out, p.file, &material, &lobby, "1920x1080-full", 960);
        }
    }
    // One photo-like JPEG (what a county pack usually sends).
    let photo_theme = PosterTheme {
        texture: true,
        ..ledcast_media::samples::BENCH_THEME
    };
    let photo = poster_jpeg(1200, 900, &photo_theme, 80);
    write(&out.join("posters").join("photo-style.jpg"), &photo);
    let material = ingest(&photo, "photo-style.jpg", &limits).unwrap();
    save_preview(out, "photo-style", &material, &door, "352x80-mono", 1408);
    save_preview(out, "photo-style", &material, &counter, "192x32-dual", 1408);
    save_preview(out, "photo-style", &material, &atm, "128x64-full", 1408);

    for (name, text) in TEXTS {
        let bytes = format!("{text}\n");
        write(
            &out.join("texts").join(format!("{name}.txt")),
            bytes.as_bytes(),
        );
        let material = ingest(bytes.as_bytes(), name, &limits).unwrap();
        // Strips for the scrollers (first ink to last ink), a page for the ATM topper.
        save_preview(
            out,
            name,
            &material,
            &RenderProfile {
                scroll: true,
                ..door
            },
            "352x80-mono-strip",
            4096,
        );
        save_preview(
            out,
            name,
            &material,
            &RenderProfile {
                scroll: true,
                ..counter
            },
            "192x32-dual-strip",
            4096,
        );
        save_preview(out, name, &material, &atm, "128x64-full", 1408);
    }
}
