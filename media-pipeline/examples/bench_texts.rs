//! Renders every demo warning text for every demo profile and prints the
//! median wall time of one full pass (`cargo run --release -p ledcast-media
//! --example bench_texts`). `ledcast-server bench media` prints the same
//! figure on its `media texts` line.

use std::time::Instant;

use ledcast_media::{ingest, render, ColorClass, Fit, Limits, RenderProfile, Rgb};

/// This benchmark's one clock read.
#[allow(clippy::disallowed_methods)]
fn clock_now() -> Instant {
    Instant::now()
}

fn main() {
    let texts = [
        "公检法机关不会通过电话办案，更不会要求转账到“安全账户”！",
        "接到96110预警劝阻电话请及时接听 全民反诈 人人有责",
        "任何要求您把钱转入“安全账户”的，都是诈骗！",
        "客服说要给您退款并索要验证码？挂断！",
        "网络刷单、点赞返利都是诈骗，先垫付就会被骗",
        "每月20日养老金发放日，请有序排队，谨防冒充工作人员",
    ];
    let profiles = [
        (352, 80, ColorClass::Mono, false, true),
        (192, 32, ColorClass::Dual, false, true),
        (128, 64, ColorClass::Full, false, false),
        (1920, 1080, ColorClass::Full, true, false),
        (1920, 360, ColorClass::Full, true, true),
    ];
    let limits = Limits::default();
    let materials: Vec<_> = texts
        .iter()
        .map(|t| ingest(t.as_bytes(), "t.txt", &limits).expect("demo text ingests"))
        .collect();
    let mut times = Vec::new();
    let mut made = 0;
    for run in 0..=15 {
        let started = clock_now();
        made = 0;
        for m in &materials {
            for &(width, height, color, video, scroll) in &profiles {
                let profile = RenderProfile {
                    width,
                    height,
                    color,
                    video,
                    scroll,
                };
                if render(
                    m,
                    &profile,
                    Fit::Fit {
                        background: Rgb(0, 0, 0),
                    },
                )
                .is_ok()
                {
                    made += 1;
                }
            }
        }
        if run > 0 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "media texts: texts={} profiles={} renditions={made} ms={:.2}",
        texts.len(),
        profiles.len(),
        times[times.len() / 2]
    );
}
