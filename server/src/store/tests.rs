//! The store suite: every test runs on SQLite and, when
//! `LEDCAST_TEST_DATABASE_URL` is set, on PostgreSQL too.

use ledcast_protocol::v1 as protocol;

use super::testing::backends;
use super::*;

fn site(id: &str) -> SiteRow {
    SiteRow {
        id: id.to_owned(),
        organisation_id: "bank".to_owned(),
        name: format!("Site {id}"),
    }
}

async fn seed_screen(store: &Store, id: &str, site_id: &str) {
    store.upsert_site(&site(site_id), 1).await.unwrap();
    store
        .upsert_profile(&ProfileRow {
            id: "door".to_owned(),
            width: 352,
            height: 80,
            color_class: "mono".to_owned(),
            can_play_video: false,
            can_scroll: true,
        })
        .await
        .unwrap();
    store
        .upsert_screen(
            &ScreenRow {
                id: id.to_owned(),
                site_id: site_id.to_owned(),
                name: format!("Screen {id}"),
                profile_id: "door".to_owned(),
                tags: vec!["bank-door".to_owned()],
                timezone: "Asia/Shanghai".to_owned(),
                opening_hours: "mon-fri 09:00-17:00".to_owned(),
            },
            1,
        )
        .await
        .unwrap();
}

fn record(seq: u64, started: i64, ended: Option<i64>, warning: bool) -> protocol::PlayRecord {
    protocol::PlayRecord {
        seq,
        media: protocol::Sha256([1; 32]),
        material_id: "m1".to_owned(),
        rotation_version: Some(1),
        is_warning: warning,
        started_at: protocol::Timestamp(started),
        ended_at: ended.map(protocol::Timestamp),
        outcome: if ended.is_some() {
            protocol::PlayOutcome::Completed
        } else {
            protocol::PlayOutcome::Interrupted
        },
        clock_suspect: false,
        bridge: None,
    }
}

fn batch(screen: &str, boot: &str, records: Vec<protocol::PlayRecord>) -> protocol::PlayBatch {
    protocol::PlayBatch {
        screen_id: protocol::ScreenId::new(screen).unwrap(),
        boot_id: protocol::BootId::new(boot).unwrap(),
        first_seq: records.first().map(|r| r.seq).unwrap_or(0),
        last_seq: records.last().map(|r| r.seq).unwrap_or(0),
        records,
    }
}

// 2026-12-01T00:00:00+08:00 in ms.
const DAY1_LOCAL_MIDNIGHT: i64 = 1_796_054_400_000;

#[tokio::test]
async fn play_batches_are_idempotent_and_aggregate_per_local_day() {
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "branch-a").await;
        // 23:59:00 local on Nov 30 (UTC+8) and 00:00:30 local on Dec 1.
        let late = DAY1_LOCAL_MIDNIGHT - 60_000;
        let first = batch(
            "s1",
            "boot-1",
            vec![
                record(1, late, Some(late + 10_000), true),
                record(
                    2,
                    DAY1_LOCAL_MIDNIGHT + 30_000,
                    Some(DAY1_LOCAL_MIDNIGHT + 40_000),
                    false,
                ),
                record(3, DAY1_LOCAL_MIDNIGHT + 40_000, None, true),
            ],
        );
        let inserted = store
            .insert_play_batch(
                "s1",
                &first,
                protocol::Timestamp(DAY1_LOCAL_MIDNIGHT + 50_000),
            )
            .await
            .unwrap();
        assert_eq!(inserted, 3, "{}", db.name);
        // Redelivery of the same batch inserts nothing and changes no aggregate.
        let again = store
            .insert_play_batch(
                "s1",
                &first,
                protocol::Timestamp(DAY1_LOCAL_MIDNIGHT + 60_000),
            )
            .await
            .unwrap();
        assert_eq!(again, 0, "{}", db.name);
        // An overlapping batch adds only its new record.
        let overlap = batch(
            "s1",
            "boot-1",
            vec![
                record(3, DAY1_LOCAL_MIDNIGHT + 40_000, None, true),
                record(
                    4,
                    DAY1_LOCAL_MIDNIGHT + 50_000,
                    Some(DAY1_LOCAL_MIDNIGHT + 55_000),
                    true,
                ),
            ],
        );
        assert_eq!(
            store
                .insert_play_batch(
                    "s1",
                    &overlap,
                    protocol::Timestamp(DAY1_LOCAL_MIDNIGHT + 70_000)
                )
                .await
                .unwrap(),
            1,
            "{}",
            db.name
        );
        // Same seq under another boot is a different record.
        let other_boot = batch(
            "s1",
            "boot-2",
            vec![record(
                1,
                DAY1_LOCAL_MIDNIGHT + 60_000,
                Some(DAY1_LOCAL_MIDNIGHT + 61_000),
                false,
            )],
        );
        assert_eq!(
            store
                .insert_play_batch(
                    "s1",
                    &other_boot,
                    protocol::Timestamp(DAY1_LOCAL_MIDNIGHT + 80_000)
                )
                .await
                .unwrap(),
            1
        );

        let days = store
            .play_days(&["s1".to_owned()], "2026-11-30", "2026-12-01")
            .await
            .unwrap();
        assert_eq!(days.len(), 2, "{}: {days:?}", db.name);
        assert_eq!(days[0].day, "2026-11-30");
        assert_eq!(
            (days[0].plays, days[0].warning_plays, days[0].warning_ms),
            (1, 1, 10_000)
        );
        let dec1 = &days[1];
        assert_eq!(dec1.day, "2026-12-01");
        assert_eq!(dec1.plays, 4, "{}", db.name);
        assert_eq!(dec1.warning_plays, 2);
        assert_eq!(dec1.interrupted_plays, 1);
        assert_eq!(dec1.played_ms, 10_000 + 5_000 + 1_000);
        assert_eq!(dec1.warning_ms, 5_000);
        assert_eq!(dec1.first_started_at, DAY1_LOCAL_MIDNIGHT + 30_000);
        assert_eq!(dec1.last_ended_at, Some(DAY1_LOCAL_MIDNIGHT + 61_000));
        assert_eq!(dec1.last_received_at, DAY1_LOCAL_MIDNIGHT + 80_000);

        let raw = store.play_records("s1", 0, i64::MAX, 100).await.unwrap();
        assert_eq!(raw.len(), 5);
        assert_eq!(raw[0], first.records[0]);
        db.finish().await;
    }
}

#[tokio::test]
async fn absurd_play_records_are_skipped_and_the_rest_of_the_group_is_stored() {
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "branch-a").await;
        seed_screen(store, "s2", "branch-a").await;
        let t = DAY1_LOCAL_MIDNIGHT + 30_000;
        let absurd = batch(
            "s1",
            "boot-1",
            vec![
                record(1, t, Some(t + 10_000), true),
                record(2, t + 20_000, Some(t + 10_000), true),
                record(3, t, Some(i64::MAX), true),
                record(4, i64::MIN, Some(t), true),
                record(u64::MAX, t, Some(t + 1_000), true),
            ],
        );
        let fine = batch("s2", "boot-9", vec![record(1, t, Some(t + 5_000), true)]);
        let inserted = store
            .insert_play_batches(
                &[("s1", &absurd), ("s2", &fine)],
                protocol::Timestamp(t + 60_000),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: one absurd record failed the group: {e}", db.name));
        assert_eq!(inserted, [1, 1], "{}", db.name);
        let raw = store.play_records("s1", 0, i64::MAX, 100).await.unwrap();
        assert_eq!(raw, [absurd.records[0].clone()], "{}", db.name);
        let days = store
            .play_days(&["s1".to_owned()], "2026-12-01", "2026-12-01")
            .await
            .unwrap();
        assert_eq!(
            (days[0].plays, days[0].played_ms),
            (1, 10_000),
            "{}",
            db.name
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn many_rotations_in_one_call_store_only_the_changed_ones() {
    for db in backends().await {
        let store = &db.store;
        for id in ["m1", "m2", "m3"] {
            seed_screen(store, id, "a").await;
        }
        store
            .store_rotation_if_changed("m2", "same", 1, 2, |v| vec![v as u8])
            .await
            .unwrap();
        let candidate = |screen_id, content_sha256| super::RotationCandidate {
            screen_id,
            content_sha256,
            issued_at: 5,
            expires_at: 6,
        };
        let stored = store
            .store_rotations_if_changed(
                &[
                    candidate("m1", "new"),
                    candidate("m2", "same"),
                    candidate("m3", "new"),
                ],
                true,
                |i, version| format!("{i}-v{version}").into_bytes(),
            )
            .await
            .unwrap();
        let got: Vec<_> = stored
            .iter()
            .map(|(i, r)| (*i, r.screen_id.as_str(), r.version, r.envelope.as_slice()))
            .collect();
        assert_eq!(
            got,
            [
                (0, "m1", 1, b"0-v1".as_slice()),
                (2, "m3", 1, b"2-v1".as_slice())
            ],
            "{}: unchanged m2 is skipped, each envelope sealed for its own screen",
            db.name
        );
        assert_eq!(
            store.latest_rotation("m2").await.unwrap().unwrap().version,
            1,
            "{}",
            db.name
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn rotation_versions_increase_only_when_content_changes() {
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "a").await;
        seed_screen(store, "s2", "a").await;
        let seal = |v: u64| format!("envelope-v{v}").into_bytes();
        let v1 = store
            .store_rotation_if_changed("s1", "content-a", 10, 20, seal)
            .await
            .unwrap()
            .expect("first rotation is stored");
        assert_eq!(v1.version, 1);
        assert!(
            store
                .store_rotation_if_changed("s1", "content-a", 11, 21, seal)
                .await
                .unwrap()
                .is_none(),
            "{}: same content must not bump",
            db.name
        );
        let v2 = store
            .store_rotation_if_changed("s1", "content-b", 12, 22, seal)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.envelope, b"envelope-v2");
        // Going back to older content is still a new, higher version.
        let v3 = store
            .store_rotation_if_changed("s1", "content-a", 13, 23, seal)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v3.version, 3);
        store
            .store_rotation_if_changed("s2", "other", 13, 23, seal)
            .await
            .unwrap()
            .unwrap();

        let latest = store.latest_rotation("s1").await.unwrap().unwrap();
        assert_eq!(
            (latest.version, latest.envelope.as_slice()),
            (3, &b"envelope-v3"[..])
        );
        assert_eq!(
            latest.envelope_sha256,
            crate::digest::sha256_hex(b"envelope-v3")
        );
        let all = store.latest_rotations().await.unwrap();
        let summary: Vec<_> = all
            .iter()
            .map(|r| (r.screen_id.as_str(), r.version))
            .collect();
        assert_eq!(summary, [("s1", 3), ("s2", 1)], "{}", db.name);
        assert!(store.latest_rotation("nope").await.unwrap().is_none());
        db.finish().await;
    }
}

fn state(screen: &str, status: protocol::Presence, version: Option<u64>) -> protocol::AgentState {
    protocol::AgentState {
        screen_id: protocol::ScreenId::new(screen).unwrap(),
        boot_id: protocol::BootId::new("boot-1").unwrap(),
        status,
        reported_at: protocol::Timestamp(5),
        rotation_version: version,
        pending_version: None,
        now_playing: None,
        stale: false,
        cache: protocol::CacheStatus {
            items: 3,
            bytes: 1000,
            missing: 1,
        },
        journal_pending: 2,
        journal_alarm: false,
        last_error: Some("disk nearly full".to_owned()),
        warnings: vec![],
        agent_version: "0.1.0".to_owned(),
        bridge: None,
        connected_at: None,
        clock_suspect: false,
        display_missing: false,
    }
}

#[tokio::test]
async fn agent_state_records_transitions_and_desired_versus_reported() {
    use protocol::Presence::{Offline, Online};
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "a").await;
        seed_screen(store, "s2", "a").await;
        store
            .store_rotation_if_changed("s1", "c1", 1, 2, |v| vec![v as u8])
            .await
            .unwrap();
        store
            .store_rotation_if_changed("s1", "c2", 1, 2, |v| vec![v as u8])
            .await
            .unwrap();
        let t = protocol::Timestamp;
        assert_eq!(
            store
                .record_agent_state("s1", &state("s1", Online, Some(1)), t(100))
                .await
                .unwrap(),
            Some(ScreenPresence::Never)
        );
        assert_eq!(
            store
                .record_agent_state("s1", &state("s1", Online, Some(1)), t(200))
                .await
                .unwrap(),
            None,
            "no transition when still online"
        );
        assert_eq!(
            store
                .record_agent_state("s1", &state("s1", Offline, Some(1)), t(300))
                .await
                .unwrap(),
            Some(ScreenPresence::Online)
        );
        let history = store.presence_history("s1").await.unwrap();
        assert_eq!(
            history,
            [
                (ScreenPresence::Online, 100),
                (ScreenPresence::Offline, 300)
            ]
        );
        let st = store.screen_state("s1").await.unwrap().unwrap();
        assert_eq!(
            (st.status, st.status_since, st.last_seen_at),
            (ScreenPresence::Offline, 300, 300)
        );
        assert_eq!(st.last_error.as_deref(), Some("disk nearly full"));
        assert_eq!(
            (st.cache_items, st.cache_missing, st.journal_pending),
            (3, 1, 2)
        );

        let versions = store.screen_versions().await.unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].screen_id, "s1");
        assert_eq!(versions[0].desired_version, Some(2), "{}", db.name);
        assert_eq!(versions[0].reported_version, Some(1));
        assert_eq!(versions[0].status, ScreenPresence::Offline);
        assert_eq!(versions[1].desired_version, None);
        assert_eq!(versions[1].status, ScreenPresence::Never);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_burst_of_state_reports_in_one_call_keeps_every_transition_in_order() {
    use protocol::Presence::{Offline, Online};
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "a").await;
        seed_screen(store, "s2", "a").await;
        let (online, offline, back) = (
            state("s1", Online, Some(1)),
            state("s1", Offline, Some(1)),
            state("s1", Online, Some(2)),
        );
        let other = state("s2", Online, Some(7));
        let previous = store
            .record_agent_states(
                &[
                    ("s1", &online),
                    ("s2", &other),
                    ("s1", &offline),
                    ("s1", &back),
                ],
                protocol::Timestamp(500),
            )
            .await
            .unwrap();
        assert_eq!(
            previous.previous,
            [
                Some(ScreenPresence::Never),
                Some(ScreenPresence::Never),
                Some(ScreenPresence::Online),
                Some(ScreenPresence::Offline)
            ],
            "{}",
            db.name
        );
        let history = store.presence_history("s1").await.unwrap();
        let statuses: Vec<ScreenPresence> = history.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            statuses,
            [
                ScreenPresence::Online,
                ScreenPresence::Offline,
                ScreenPresence::Online
            ],
            "{}",
            db.name
        );
        let s1 = store.screen_state("s1").await.unwrap().unwrap();
        assert_eq!(
            (s1.status, s1.rotation_version),
            (ScreenPresence::Online, Some(2))
        );
        let s2 = store.screen_state("s2").await.unwrap().unwrap();
        assert_eq!(s2.rotation_version, Some(7));
        db.finish().await;
    }
}

#[tokio::test]
async fn a_replayed_old_state_changes_presence_at_most_once() {
    use protocol::Presence::{Offline, Online};
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "a").await;
        let report = |connected_at: i64, status, reported_at: i64| {
            let mut s = state("s1", status, Some(1));
            s.connected_at = Some(protocol::Timestamp(connected_at));
            s.reported_at = protocol::Timestamp(reported_at);
            s
        };
        let t = protocol::Timestamp;
        // A connection that began at 1,000 reports online; its Last Will
        // (signed at 1,000) is delivered when it drops; the agent reconnects.
        let will = report(1_000, Offline, 1_000);
        for (n, s) in [
            report(1_000, Online, 1_100),
            will.clone(),
            report(2_000, Online, 2_100),
        ]
        .iter()
        .enumerate()
        {
            store
                .record_agent_state("s1", s, t(10_000 + n as i64))
                .await
                .unwrap();
        }
        // The attack: the captured will republished 40 times, the victim
        // answering each with a fresh online report, plus one burst.
        let mut ignored = 0;
        for n in 0..40 {
            let answer = report(2_000, Online, 2_200 + n);
            let recorded = store
                .record_agent_states(&[("s1", &will), ("s1", &answer)], t(20_000 + n))
                .await
                .unwrap();
            ignored += recorded.ignored;
        }
        let burst: Vec<(&str, &protocol::AgentState)> = (0..10).map(|_| ("s1", &will)).collect();
        ignored += store
            .record_agent_states(&burst, t(30_000))
            .await
            .unwrap()
            .ignored;
        assert_eq!(
            ignored, 50,
            "{}: every replay is ignored and counted",
            db.name
        );
        let history = store.presence_history("s1").await.unwrap();
        let statuses: Vec<ScreenPresence> = history.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            statuses,
            [
                ScreenPresence::Online,
                ScreenPresence::Offline,
                ScreenPresence::Online
            ],
            "{}",
            db.name
        );
        let st = store.screen_state("s1").await.unwrap().unwrap();
        assert_eq!((st.status, st.reported_at), (ScreenPresence::Online, 2_239));
        // The real end of the current connection still counts, once.
        let shutdown = report(2_000, Offline, 3_000);
        for _ in 0..3 {
            store
                .record_agent_state("s1", &shutdown, t(40_000))
                .await
                .unwrap();
        }
        let history = store.presence_history("s1").await.unwrap();
        assert_eq!(history.len(), 4, "{}: {history:?}", db.name);
        db.finish().await;
    }
}

#[tokio::test]
async fn enrollment_codes_are_single_use_expire_and_revoke_old_keys() {
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "a").await;
        store
            .create_enrollment_code("code-1", "s1", "admin", 1000, 2000)
            .await
            .unwrap();
        store
            .create_enrollment_code("code-2", "s1", "admin", 1000, 2000)
            .await
            .unwrap();
        let key = |n: &str| {
            let n = n.to_owned();
            move |_: &str| {
                (
                    format!("ed25519:{n}"),
                    format!("pk-{n}"),
                    "screen-s1".to_owned(),
                    "pw".to_owned(),
                )
            }
        };
        assert_eq!(
            store
                .redeem_enrollment_code("code-1", 1500, key("a"))
                .await
                .unwrap()
                .as_deref(),
            Some("s1")
        );
        assert_eq!(
            store.device_public_key_hex("s1").await.unwrap().as_deref(),
            Some("pk-a")
        );
        assert!(
            store
                .redeem_enrollment_code("code-1", 1600, key("b"))
                .await
                .unwrap()
                .is_none(),
            "{}: single use",
            db.name
        );
        assert!(
            store
                .redeem_enrollment_code("code-2", 2000, key("b"))
                .await
                .unwrap()
                .is_none(),
            "expired at 2000"
        );
        assert!(store
            .redeem_enrollment_code("unknown", 1500, key("b"))
            .await
            .unwrap()
            .is_none());
        store
            .create_enrollment_code("code-3", "s1", "admin", 3000, 4000)
            .await
            .unwrap();
        store
            .redeem_enrollment_code("code-3", 3500, key("c"))
            .await
            .unwrap()
            .unwrap();
        let current = store.device_key("s1").await.unwrap().unwrap();
        assert_eq!(
            current.public_key_hex, "pk-c",
            "re-enrolling replaces the key"
        );
        assert_eq!(
            store
                .device_by_broker_username("screen-s1")
                .await
                .unwrap()
                .unwrap()
                .key_id,
            "ed25519:c"
        );
        assert_eq!(store.count_enrollment_codes("s1", 0).await.unwrap(), 3);
        assert!(store.device_key("s2").await.unwrap().is_none());
        db.finish().await;
    }
}

#[tokio::test]
async fn users_sessions_tokens_throttles_and_the_append_only_audit_log() {
    for db in backends().await {
        let store = &db.store;
        store.upsert_site(&site("a"), 1).await.unwrap();
        store
            .create_user(NewUser {
                id: "u1",
                username: "li",
                password_hash: "$argon2id$x",
                role: Role::Branch,
                sites: &["a".to_owned()],
                now: 1,
            })
            .await
            .unwrap();
        let duplicate = store
            .create_user(NewUser {
                id: "u2",
                username: "li",
                password_hash: "h",
                role: Role::Admin,
                sites: &[],
                now: 1,
            })
            .await;
        assert!(
            matches!(duplicate, Err(StoreError::Conflict { .. })),
            "{}: {duplicate:?}",
            db.name
        );
        let user = store.user_by_name("li").await.unwrap().unwrap();
        assert_eq!(
            (user.role, user.sites.clone()),
            (Role::Branch, vec!["a".to_owned()])
        );

        store
            .create_session("tok", "u1", "csrf", 10, 100, Some("10.0.0.9"))
            .await
            .unwrap();
        assert_eq!(
            store.session("tok", 50).await.unwrap().unwrap().csrf_token,
            "csrf"
        );
        assert!(
            store.session("tok", 100).await.unwrap().is_none(),
            "expired"
        );
        store.delete_session("tok", 50).await.unwrap();
        assert!(store.session("tok", 50).await.unwrap().is_none());

        store
            .create_api_token("t1", "secret-hash", "u1", "script", 5)
            .await
            .unwrap();
        assert_eq!(
            store
                .api_token_user("secret-hash")
                .await
                .unwrap()
                .as_deref(),
            Some("u1")
        );
        assert!(store.revoke_api_token("t1", "u1", 6).await.unwrap());
        assert!(store.api_token_user("secret-hash").await.unwrap().is_none());

        for at in [10, 20, 30] {
            store.add_rate_event("login:li", at, 0).await.unwrap();
        }
        assert_eq!(store.count_rate_events("login:li", 15).await.unwrap(), 2);
        store.clear_rate_events("login:li").await.unwrap();
        assert_eq!(store.count_rate_events("login:li", 0).await.unwrap(), 0);

        store
            .audit(
                7,
                "li",
                "material.approve",
                "m1",
                &serde_json::json!({"x": 1}),
                Some("10.0.0.9"),
            )
            .await
            .unwrap();
        let log = store.audit_log(10, None).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            (log[0].actor.as_str(), log[0].action.as_str()),
            ("li", "material.approve")
        );
        let tamper = sqlx::query("UPDATE audit_log SET actor = 'someone else'")
            .execute(store.pool())
            .await;
        assert!(
            tamper.is_err(),
            "{}: audit log must refuse updates",
            db.name
        );
        let delete = sqlx::query("DELETE FROM audit_log")
            .execute(store.pool())
            .await;
        assert!(
            delete.is_err(),
            "{}: audit log must refuse deletes",
            db.name
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn screenshots_keep_only_the_newest_n_per_screen() {
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "a").await;
        let mut orphans = Vec::new();
        for i in 0..5 {
            orphans.extend(
                store
                    .add_screenshot("s1", &format!("sha{i}"), 10, i, i, 3)
                    .await
                    .unwrap(),
            );
        }
        let kept: Vec<_> = store
            .screenshots("s1")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.sha256)
            .collect();
        assert_eq!(kept, ["sha4", "sha3", "sha2"], "{}", db.name);
        assert_eq!(orphans, ["sha0", "sha1"]);
        db.finish().await;
    }
}

#[tokio::test]
async fn materials_move_through_approval_states_once() {
    for db in backends().await {
        let store = &db.store;
        let material = MaterialRow {
            id: "m1".to_owned(),
            sha256: "ab".repeat(32),
            kind: MaterialKind::Poster,
            title: "防诈骗".to_owned(),
            tags: vec!["investment".to_owned()],
            source: "county pack".to_owned(),
            mime: "image/png".to_owned(),
            size_bytes: 10,
            width: Some(100),
            height: Some(50),
            duration_ms: None,
            valid_from: None,
            valid_until: None,
            state: MaterialState::Pending,
            uploaded_by: "u1".to_owned(),
            uploaded_at: 1,
            decided_by: None,
            decided_at: None,
            is_warning: true,
        };
        store.insert_material(&material).await.unwrap();
        assert!(store
            .decide_material(
                "m1",
                MaterialState::Pending,
                MaterialState::Approved,
                "u2",
                5
            )
            .await
            .unwrap());
        assert!(
            !store
                .decide_material(
                    "m1",
                    MaterialState::Pending,
                    MaterialState::Rejected,
                    "u3",
                    6
                )
                .await
                .unwrap(),
            "{}",
            db.name
        );
        let got = store.material("m1").await.unwrap().unwrap();
        assert_eq!(
            (
                got.state.as_str(),
                got.decided_by.as_deref(),
                got.title.as_str()
            ),
            ("approved", Some("u2"), "防诈骗")
        );
        let filtered = store
            .list_materials(&MaterialFilter {
                state: Some(MaterialState::Approved),
                tag: Some("investment".to_owned()),
                kind: None,
            })
            .await
            .unwrap();
        assert_eq!(filtered.len(), 1);
        assert!(store
            .list_materials(&MaterialFilter {
                state: Some(MaterialState::Pending),
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty());
        assert!(store.retire_material("m1", 9).await.unwrap());
        db.finish().await;
    }
}

/// A stored kind or state no release wrote is an error naming the table,
/// the row and the word, never a default (an unknown kind once became a
/// poster on air).
#[tokio::test]
async fn a_corrupt_kind_or_state_is_an_error_not_a_poster() {
    for db in backends().await {
        let store = &db.store;
        let material = MaterialRow {
            id: "m1".to_owned(),
            sha256: "ab".repeat(32),
            kind: MaterialKind::Video,
            title: "防诈骗".to_owned(),
            tags: vec![],
            source: "county pack".to_owned(),
            mime: "video/mp4".to_owned(),
            size_bytes: 10,
            width: Some(100),
            height: Some(50),
            duration_ms: Some(5_000),
            valid_from: None,
            valid_until: None,
            state: MaterialState::Pending,
            uploaded_by: "u1".to_owned(),
            uploaded_at: 1,
            decided_by: None,
            decided_at: None,
            is_warning: true,
        };
        store.insert_material(&material).await.unwrap();
        let stored = store.material("m1").await.unwrap().unwrap();
        assert_eq!(
            (stored.kind, stored.state),
            (MaterialKind::Video, MaterialState::Pending)
        );

        for (column, word) in [("kind", "banner"), ("state", "Approved")] {
            sqlx::query(&format!(
                "UPDATE materials SET {column} = $1 WHERE id = 'm1'"
            ))
            .bind(word)
            .execute(&store.pool)
            .await
            .unwrap();
            for read in [
                store.material("m1").await.map(|_| ()),
                store
                    .list_materials(&MaterialFilter::default())
                    .await
                    .map(|_| ()),
                store.material_by_sha256(&"ab".repeat(32)).await.map(|_| ()),
            ] {
                match read {
                    Err(StoreError::Corrupt { table, detail }) => {
                        assert_eq!(table, "materials", "{}", db.name);
                        for named in ["m1", column, word] {
                            assert!(detail.contains(named), "{detail} names {named}");
                        }
                    }
                    other => panic!("{}: {column} {word:?} read as {other:?}", db.name),
                }
            }
            // Put it back, so the next column is the only corrupt one.
            let good = if column == "kind" { "video" } else { "pending" };
            sqlx::query(&format!(
                "UPDATE materials SET {column} = $1 WHERE id = 'm1'"
            ))
            .bind(good)
            .execute(&store.pool)
            .await
            .unwrap();
        }
        db.finish().await;
    }
}

/// A schedule's or an edition's state that is none of its words is an
/// error naming the row, not a schedule silently off air.
#[tokio::test]
async fn a_corrupt_schedule_or_edition_state_is_an_error() {
    for db in backends().await {
        let store = &db.store;
        let schedules = [("s1".to_owned(), "p1".to_owned(), "body".to_owned())];
        store.sync_schedules(&schedules, "u1", 1).await.unwrap();
        assert!(store
            .decide_schedule("s1", Verdict::Approved, "u2", 2)
            .await
            .unwrap());
        assert_eq!(
            store.list_schedules().await.unwrap()[0].state,
            ScheduleState::Approved
        );
        assert!(store
            .record_edition("e1", "county", "2026-11-23", "u1", 3)
            .await
            .unwrap());
        assert_eq!(
            store.list_editions().await.unwrap()[0].state,
            EditionState::Pending
        );

        for table in ["schedules", "editions"] {
            sqlx::query(&format!("UPDATE {table} SET state = 'aproved'"))
                .execute(&store.pool)
                .await
                .unwrap();
        }
        match store.list_schedules().await {
            Err(StoreError::Corrupt { table, detail }) => {
                assert_eq!(table, "schedules");
                assert!(
                    detail.contains("s1") && detail.contains("aproved"),
                    "{detail}"
                );
            }
            other => panic!("{}: schedules read as {other:?}", db.name),
        }
        match store.list_editions().await {
            Err(StoreError::Corrupt { table, detail }) => {
                assert_eq!(table, "editions");
                assert!(
                    detail.contains("e1") && detail.contains("aproved"),
                    "{detail}"
                );
            }
            other => panic!("{}: editions read as {other:?}", db.name),
        }
        db.finish().await;
    }
}

/// A branch confirmation whose stored verdict is neither `ok` nor
/// `problem` is a read error naming the row, not a silent "ok".
#[tokio::test]
async fn a_corrupt_confirmation_verdict_is_an_error() {
    for db in backends().await {
        let store = &db.store;
        sqlx::query(
            "INSERT INTO confirmations (id, screen_id, period_from, period_until, status, note, \
             evidence, confirmed_by, confirmed_at, site_id, week, photo_sha256, corrects, seq) \
             VALUES ('cf-1', 's1', 1, 2, 'okay', '', '{}', 'u1', 3, 'site-a', '2026-W48', NULL, NULL, 1)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        match store.confirmations(None, None, None).await {
            Err(StoreError::Corrupt { table, detail }) => {
                assert_eq!(table, "confirmations");
                assert!(
                    detail.contains("cf-1") && detail.contains("okay"),
                    "{detail}"
                );
            }
            other => panic!("{}: confirmations read as {other:?}", db.name),
        }
        db.finish().await;
    }
}

/// Every domain word serialises (JSON API, templates) as the word stored
/// in its column, so typing them changed no output.
#[test]
fn domain_words_serialise_as_their_stored_word() {
    fn check<T: StoredWord + serde::Serialize + std::fmt::Debug>() {
        for value in T::ALL {
            assert_eq!(
                serde_json::to_value(value).unwrap(),
                serde_json::Value::from(value.as_str()),
                "{value:?}"
            );
            assert_eq!(
                T::parse(value.as_str()).map(|v| v.as_str()),
                Some(value.as_str())
            );
        }
    }
    check::<ScreenPresence>();
    check::<BranchVerdict>();
    check::<MaterialKind>();
    check::<MaterialState>();
    check::<ScheduleState>();
    check::<EditionState>();
}

/// A stored presence that is neither `online` nor `offline` (`never` is
/// no stored word either: a screen that reported has a row) is a read
/// error naming the row, not a screen silently shown offline, online or
/// never seen, and not a transition recorded from a word no one wrote.
#[tokio::test]
async fn a_corrupt_presence_is_an_error() {
    use protocol::Presence::{Offline, Online};
    for db in backends().await {
        let store = &db.store;
        seed_screen(store, "s1", "a").await;
        let t = protocol::Timestamp;
        store
            .record_agent_state("s1", &state("s1", Online, Some(1)), t(100))
            .await
            .unwrap();
        let expect_corrupt =
            |read: StoreResult<()>, table_read: &str, word: &str, what: &str| match read {
                Err(StoreError::Corrupt { table, detail }) => {
                    assert_eq!(table, table_read, "{}: {what}", db.name);
                    for named in ["s1", "status", word] {
                        assert!(detail.contains(named), "{what}: {detail} names {named}");
                    }
                }
                other => panic!("{}: {what} with status {word:?} read as {other:?}", db.name),
            };
        for word in ["Online", "onl1ne", "never", ""] {
            sqlx::query("UPDATE screen_state SET status = $1 WHERE screen_id = 's1'")
                .bind(word)
                .execute(&store.pool)
                .await
                .unwrap();
            expect_corrupt(
                store.screen_state("s1").await.map(|_| ()),
                "screen_state",
                word,
                "screen_state",
            );
            expect_corrupt(
                store.screen_versions().await.map(|_| ()),
                "screen_state",
                word,
                "screen_versions",
            );
            expect_corrupt(
                store
                    .record_agent_state("s1", &state("s1", Offline, Some(1)), t(200))
                    .await
                    .map(|_| ()),
                "screen_state",
                word,
                "record_agent_state",
            );
        }
        // The failed reports recorded nothing; put the row back.
        sqlx::query("UPDATE screen_state SET status = 'online' WHERE screen_id = 's1'")
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            store.presence_history("s1").await.unwrap(),
            [(ScreenPresence::Online, 100)],
            "{}",
            db.name
        );
        for word in ["offline ", "never"] {
            sqlx::query("UPDATE presence_events SET status = $1 WHERE screen_id = 's1'")
                .bind(word)
                .execute(&store.pool)
                .await
                .unwrap();
            expect_corrupt(
                store.presence_history("s1").await.map(|_| ()),
                "presence_events",
                word,
                "presence_history",
            );
        }
        db.finish().await;
    }
}

#[tokio::test]
async fn playlist_files_round_trip_verbatim() {
    for db in backends().await {
        let files = vec![
            PlaylistFile {
                name: "a.toml".to_owned(),
                text: "# 注释\nx = 1  \n\n".to_owned(),
            },
            PlaylistFile {
                name: "b.toml".to_owned(),
                text: "y = \"\\t\"\r\n".to_owned(),
            },
        ];
        db.store
            .replace_playlist_files(&files, "u1", 1)
            .await
            .unwrap();
        assert_eq!(
            db.store.playlist_files().await.unwrap(),
            files,
            "{}",
            db.name
        );
        db.store
            .replace_playlist_files(&files[..1], "u1", 2)
            .await
            .unwrap();
        assert_eq!(db.store.playlist_files().await.unwrap(), files[..1]);
        db.finish().await;
    }
}

fn tables_and_columns(sql: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in sql.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            let name = rest.trim_end_matches(" (").trim().to_owned();
            current = Some((name, Vec::new()));
        } else if line.starts_with(");") {
            if let Some(table) = current.take() {
                out.push(table);
            }
        } else if let Some((_, columns)) = current.as_mut() {
            let first = line.split_whitespace().next().unwrap_or_default();
            if !first.is_empty() && first != "PRIMARY" && !first.starts_with("--") {
                columns.push(first.to_owned());
            }
        }
    }
    out
}

#[test]
fn sqlite_and_postgres_migrations_have_the_same_tables_and_columns() {
    let sqlite = tables_and_columns(include_str!("../../migrations/sqlite/0001_init.sql"));
    let postgres = tables_and_columns(include_str!("../../migrations/postgres/0001_init.sql"));
    assert!(sqlite.len() >= 20, "parsed {} tables", sqlite.len());
    assert_eq!(sqlite, postgres);
    let dirs = |d: &str| {
        let mut names: Vec<_> =
            std::fs::read_dir(format!("{}/migrations/{d}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
        names.sort();
        names
    };
    assert_eq!(
        dirs("sqlite"),
        dirs("postgres"),
        "one migration per backend, same names"
    );
}

#[tokio::test]
async fn postgres_is_required_when_configured() {
    // With the variable set, backends() must yield a PostgreSQL store (an
    // unreachable server panics inside backends()).
    let dbs = backends().await;
    let expected = if std::env::var(testing::PG_ENV).is_ok() {
        2
    } else {
        1
    };
    assert_eq!(dbs.len(), expected);
    for db in dbs {
        assert!(db.store.ping().await, "{}", db.name);
        db.finish().await;
    }
}

/// Issue 21: every replica receives every state report (the state
/// subscription is not shared). Two replicas recording the same reports at
/// once on one PostgreSQL database record each transition once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_recording_the_same_reports_record_each_transition_once() {
    use protocol::Presence::{Offline, Online};
    for db in backends().await {
        let Some(replica) = db.another_replica().await else {
            db.finish().await;
            continue;
        };
        let screens: Vec<String> = (0..40).map(|n| format!("r{n}")).collect();
        for screen in &screens {
            seed_screen(&db.store, screen, "a").await;
        }
        let t = protocol::Timestamp;
        for (round, status) in [Online, Offline, Online].into_iter().enumerate() {
            let reports: Vec<(String, protocol::AgentState)> = screens
                .iter()
                .map(|s| {
                    let mut report = state(s, status, Some(1));
                    report.reported_at = t(1_000 * (i64::try_from(round).unwrap() + 1));
                    (s.clone(), report)
                })
                .collect();
            let mut both = tokio::task::JoinSet::new();
            for store in [db.store.clone(), replica.clone()] {
                let reports = reports.clone();
                both.spawn(async move {
                    let batch: Vec<(&str, &protocol::AgentState)> =
                        reports.iter().map(|(s, r)| (s.as_str(), r)).collect();
                    store.record_agent_states(&batch, t(5_000)).await.unwrap();
                });
            }
            while let Some(done) = both.join_next().await {
                done.unwrap();
            }
        }
        for screen in &screens {
            let history: Vec<ScreenPresence> = db
                .store
                .presence_history(screen)
                .await
                .unwrap()
                .into_iter()
                .map(|(status, _)| status)
                .collect();
            assert_eq!(
                history,
                [
                    ScreenPresence::Online,
                    ScreenPresence::Offline,
                    ScreenPresence::Online
                ],
                "{screen}"
            );
        }
        replica.close().await;
        db.finish().await;
    }
}
