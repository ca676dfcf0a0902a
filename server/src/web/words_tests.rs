//! Schedules and instants in words, as a clerk reads them.

use super::*;

fn zh(when: ScheduleWhen<'_>) -> String {
    schedule_words(Lang::ZhCn, &when).unwrap_or_else(|| "(raw)".into())
}

fn en(when: ScheduleWhen<'_>) -> String {
    schedule_words(Lang::En, &when).unwrap_or_else(|| "(raw)".into())
}

fn days_hours<'a>(days: &'a str, hours: &'a str) -> ScheduleWhen<'a> {
    ScheduleWhen {
        days: Some(days),
        hours: Some(hours),
        ..ScheduleWhen::default()
    }
}

#[test]
fn calendar_schedules_read_as_a_clerk_would_say_them() {
    assert_eq!(
        zh(days_hours("mon-fri", "09:00-17:00")),
        "每周一至周五 09:00–17:00"
    );
    assert_eq!(
        en(days_hours("mon-fri", "09:00-17:00")),
        "Mon–Fri 09:00–17:00"
    );
    assert_eq!(zh(days_hours("mon-sun", "08:00-20:00")), "每天 08:00–20:00");
    assert_eq!(
        zh(days_hours("mon,wed,fri", "09:00-09:30, 14:00-14:30")),
        "每周一、周三、周五 09:00–09:30、14:00–14:30"
    );
    assert_eq!(
        zh(days_hours("周六、周日", "10:00-12:00")),
        "周末 10:00–12:00"
    );
    let overnight = ScheduleWhen {
        hours: Some("20:00-06:00"),
        overnight: true,
        ..ScheduleWhen::default()
    };
    assert_eq!(zh(overnight.clone()), "每天 20:00–次日06:00");
    assert_eq!(en(overnight), "every day 20:00–06:00 (next day)");
    let dated = ScheduleWhen {
        dates: vec!["2026-12-20", "2026-12-24..2026-12-26"],
        hours: Some("08:30-17:00"),
        ..ScheduleWhen::default()
    };
    assert_eq!(
        zh(dated.clone()),
        "2026年12月20日、2026年12月24日至2026年12月26日 08:30–17:00"
    );
    assert_eq!(
        en(dated),
        "20 Dec 2026, 24 Dec 2026 to 26 Dec 2026 08:30–17:00"
    );
    assert_eq!(
        zh(ScheduleWhen {
            days: Some("mon-fri"),
            ..ScheduleWhen::default()
        }),
        "每周一至周五 全天"
    );
}

#[test]
fn cron_schedules_read_in_words_where_they_can_and_raw_otherwise() {
    let cron = |text, seconds| ScheduleWhen {
        cron: Some(text),
        duration_seconds: Some(seconds),
        ..ScheduleWhen::default()
    };
    assert_eq!(
        zh(cron("0 0 12 * * Mon-Fri *", 1800)),
        "每周一至周五 12:00 开始，每次 30 分钟"
    );
    assert_eq!(
        en(cron("0 0 12 * * Mon-Fri *", 1800)),
        "Mon–Fri starting 12:00, for 30 min each"
    );
    assert_eq!(
        zh(cron("0 30 8,17 * * * *", 3600)),
        "每天 08:30、17:30 开始，每次 1 小时"
    );
    assert_eq!(
        zh(cron("0 0 9 1,15 * * *", 600)),
        "每月 1、15 日 09:00 开始，每次 10 分钟"
    );
    // Sunday as cron writes it (0 and 7).
    assert_eq!(
        zh(cron("0 0 10 * * 0 *", 600)),
        "每周日 10:00 开始，每次 10 分钟"
    );
    // Every five minutes, or a year: not worded; the raw form is shown.
    assert_eq!(zh(cron("0 */5 * * * * *", 60)), "(raw)");
    assert_eq!(zh(cron("0 0 12 * * * 2027", 60)), "(raw)");
    assert_eq!(
        schedule_raw(&cron("0 0 12 * * Mon-Fri *", 1800)),
        "cron 0 0 12 * * Mon-Fri * · 1800 s"
    );
}

#[test]
fn instants_read_in_the_site_zone_and_the_users_language() {
    // 2026-12-06 12:27:20 UTC.
    let ms = 1_796_560_040_000;
    assert_eq!(
        local_date_time(Lang::ZhCn, ms, "Asia/Shanghai"),
        "2026年12月6日 20:27"
    );
    assert_eq!(
        local_date_time(Lang::En, ms, "Asia/Shanghai"),
        "6 Dec 2026 20:27"
    );
    assert_eq!(
        local_date_time(Lang::ZhCn, ms, "Europe/London"),
        "2026年12月6日 12:27"
    );
}
