//! The simulated fleet's content: one site, N screens of one small
//! still-only profile, three sample materials and two playlists holding the
//! same media in a different order (so a schedule change makes a new
//! rotation for every screen without new downloads). The alert uses a
//! material that no playlist plays, so "the alert is shown" is unambiguous.

use ledcast_server::store::PlaylistFile;

/// The tag every simulated screen carries.
pub const TAG: &str = "fleet";
/// The material urgent alerts show (in no playlist).
pub const ALERT_MATERIAL: &str = "std-text-96110";
/// The schedule the fan-out scenario changes.
pub const SCHEDULE: &str = "fleet-main";

/// The screen id of simulated screen `i` in run `run` (runs sharing a
/// broker must not share topics: each refuses the other's signatures).
pub fn screen_id(run: &str, i: usize) -> String {
    format!("fleet-{run}-{i:05}")
}

/// `materials.toml` for the sample files under the repository's `media/`.
pub const MATERIALS: &str = r#"
[[materials]]
id = "std-text-no-transfer"
kind = "text"
file = "texts/std-text-no-transfer.txt"
title = "公检法不会要求转账"
text = "公检法机关不会通过电话办案，更不会要求转账到“安全账户”！"
tags = ["standard"]
source = "fleet bench"
added = 2026-01-05T09:00:00+08:00

[[materials]]
id = "std-text-96110"
kind = "text"
file = "texts/std-text-96110.txt"
title = "接听96110"
text = "接到96110预警劝阻电话请及时接听 全民反诈 人人有责"
tags = ["standard"]
source = "fleet bench"
added = 2026-01-05T09:00:00+08:00

[[materials]]
id = "std-poster-96110"
kind = "poster"
file = "posters/std-96110.png"
title = "96110 反诈预警专线"
tags = ["standard"]
source = "fleet bench"
added = 2026-01-05T09:00:00+08:00
"#;

/// The playlist files for `agents` screens; `playlist` is what the
/// schedule plays (`fleet-a` at set-up, `fleet-b` after the change).
pub fn files(run: &str, agents: usize, playlist: &str) -> Vec<PlaylistFile> {
    let mut sites = String::from(
        "[[sites]]\nid = \"fleet-site\"\nname = \"Fleet bench\"\norganisation = \"bench\"\n\n",
    );
    for i in 0..agents {
        sites.push_str(&format!(
            "[[screens]]\nid = \"{}\"\nname = \"sim {i}\"\nsite = \"fleet-site\"\nprofile = \"fleet-128x64\"\ntags = [\"{TAG}\"]\n\n",
            screen_id(run, i)
        ));
    }
    let file = |name: &str, text: String| PlaylistFile {
        name: name.to_owned(),
        text,
    };
    vec![
        file(
            "settings.toml",
            "[settings]\ntimezone = \"Asia/Shanghai\"\ndefault_playlist = \"fleet-a\"\n\
             warning_playlist = \"fleet-a\"\nstill_seconds = 10\nscroll_px_per_second = 32\n"
                .to_owned(),
        ),
        file(
            "profiles.toml",
            "[[profiles]]\nid = \"fleet-128x64\"\nwidth = 128\nheight = 64\ncolor = \"full\"\n\
             video = false\nscroll = false\nstill = true\n"
                .to_owned(),
        ),
        file("sites.toml", sites),
        file(
            "playlists.toml",
            "[[playlists]]\nid = \"fleet-a\"\nname = \"a\"\nitems = [\n  { material = \"std-text-no-transfer\" },\n  { material = \"std-poster-96110\" },\n]\n\n\
             [[playlists]]\nid = \"fleet-b\"\nname = \"b\"\nitems = [\n  { material = \"std-poster-96110\" },\n  { material = \"std-text-no-transfer\" },\n]\n"
                .to_owned(),
        ),
        file(
            "schedules.toml",
            format!(
                "[[schedules]]\nid = \"{SCHEDULE}\"\nplaylist = \"{playlist}\"\ntags = [\"{TAG}\"]\ndays = \"mon-sun\"\npriority = 10\n"
            ),
        ),
    ]
}
