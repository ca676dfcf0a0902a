//! `ledcast-server bench ingest [--records N] [--batch K] [--screens S]
//! [--database-url URL]`: play-record ingest throughput through the real
//! path: agents publish device-signed `plays` batches to the embedded
//! broker; the server's delivery client (`crate::push::start`) verifies each
//! signature with the enrolled device key, inserts idempotently on
//! `(screen, boot_id, seq)`, commits, then publishes the signed ack. The
//! clock runs from the first publish to the ack of every screen's last seq.
//!
//! One batch in 20 is published twice (an agent resending after a lost
//! ack). Afterwards the database must hold exactly N records and the daily
//! aggregate must count each once: `lost` and `duplicated` say otherwise.
//! SQLite lives in a fresh temp dir; PostgreSQL gets a fresh schema that is
//! dropped afterwards. Build with `--release` for meaningful figures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use ledcast_protocol::v1 as protocol;
use protocol::{Topic, TopicKind};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use sqlx::{Executor, Row};

use crate::store::{NewDeviceKey, ProfileRow, ScreenRow, SiteRow, Store};

/// Agent connections the screens are spread over.
const AGENT_CLIENTS: usize = 8;

#[allow(clippy::disallowed_methods)]
fn instant() -> std::time::Instant {
    std::time::Instant::now()
}

/// The bench's parameters.
#[derive(Debug, Clone)]
pub struct IngestArgs {
    /// Play records in total.
    pub records: usize,
    /// Records per batch.
    pub batch: usize,
    /// Screens (each with its own device key and boot).
    pub screens: usize,
    /// `postgres://…`; unset = SQLite in a temp dir.
    pub database_url: Option<String>,
}

/// Runs the benchmark and returns its result line.
pub async fn run(args: IngestArgs) -> anyhow::Result<String> {
    anyhow::ensure!(
        args.records > 0 && args.batch > 0 && args.screens > 0,
        "--records, --batch and --screens must be positive"
    );
    let dir = std::env::temp_dir().join(format!("ledcast-bench-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (store, backend, schema) = match &args.database_url {
        None => {
            let url = format!("sqlite://{}?mode=rwc", dir.join("ledcast.db").display());
            (Store::connect(&url, None).await?, "sqlite", None)
        }
        Some(url) => {
            sqlx::any::install_default_drivers();
            let schema = format!("ledcast_bench_{}", crate::auth::random_hex::<6>());
            let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
                .await
                .context("connecting to --database-url")?;
            admin
                .execute(format!("CREATE SCHEMA \"{schema}\"").as_str())
                .await?;
            (
                Store::connect(url, Some(&schema)).await?,
                "postgres",
                Some((url.clone(), schema)),
            )
        }
    };
    let result = measure(&store, backend, &args).await;
    store.close().await;
    if let Some((url, schema)) = schema {
        let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await?;
        admin
            .execute(format!("DROP SCHEMA \"{schema}\" CASCADE").as_str())
            .await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One screen's pre-signed batches.
struct ScreenLoad {
    screen_id: protocol::ScreenId,
    /// `(last seq of the batch, signed envelope)`, in order.
    envelopes: Vec<(u64, Vec<u8>)>,
}

async fn seed(store: &Store, args: &IngestArgs) -> anyhow::Result<Vec<ScreenLoad>> {
    let now = crate::clock::now();
    store
        .upsert_site(
            &SiteRow {
                id: "bench".into(),
                organisation_id: "bench".into(),
                name: "bench".into(),
            },
            now.as_millis(),
        )
        .await?;
    store
        .upsert_profile(&ProfileRow {
            id: "door".into(),
            width: 352,
            height: 80,
            color_class: "mono".into(),
            can_play_video: false,
            can_scroll: true,
        })
        .await?;
    let media = protocol::Sha256([7; 32]);
    let mut loads = Vec::with_capacity(args.screens);
    for s in 0..args.screens {
        let id = format!("bench-{s:05}");
        let screen_id = protocol::ScreenId::new(&id)?;
        store
            .upsert_screen(
                &ScreenRow {
                    id: id.clone(),
                    site_id: "bench".into(),
                    name: id.clone(),
                    profile_id: "door".into(),
                    tags: vec![],
                    timezone: "Asia/Shanghai".into(),
                    opening_hours: String::new(),
                },
                now.as_millis(),
            )
            .await?;
        let device = SigningKey::from_bytes(&crate::auth::random_bytes::<32>());
        let trusted = protocol::TrustedKey::new(device.verifying_key());
        store
            .insert_device_key(
                NewDeviceKey {
                    screen_id: &id,
                    key_id: &trusted.key_id,
                    public_key_hex: &trusted.public_key_hex(),
                    broker_username: &format!("screen-{id}"),
                    broker_password_sha256: "unused",
                    broker_password_mosquitto: None,
                },
                now.as_millis(),
            )
            .await?;
        // Records go round-robin over screens; this screen's share:
        let count = args.records / args.screens + usize::from(s < args.records % args.screens);
        let boot_id = protocol::BootId::new(&format!("boot-{s}"))?;
        let mut envelopes = Vec::new();
        let mut seq = 0u64;
        while (seq as usize) < count {
            let first = seq + 1;
            let n = args.batch.min(count - seq as usize);
            let records: Vec<protocol::PlayRecord> = (0..n as u64)
                .map(|i| {
                    let started = now.as_millis() - 3_600_000 + ((first + i) as i64) * 10_000;
                    protocol::PlayRecord {
                        seq: first + i,
                        media,
                        material_id: format!("warn-{}", (first + i) % 7),
                        rotation_version: Some(1),
                        is_warning: !(first + i).is_multiple_of(3),
                        started_at: protocol::Timestamp(started),
                        ended_at: Some(protocol::Timestamp(started + 10_000)),
                        outcome: protocol::PlayOutcome::Completed,
                        clock_suspect: false,
                        bridge: None,
                    }
                })
                .collect();
            seq += n as u64;
            let batch = protocol::PlayBatch {
                screen_id: screen_id.clone(),
                boot_id: boot_id.clone(),
                first_seq: first,
                last_seq: seq,
                records,
            };
            envelopes.push((seq, protocol::seal(&batch, &device)));
        }
        if !envelopes.is_empty() {
            loads.push(ScreenLoad {
                screen_id,
                envelopes,
            });
        }
    }
    Ok(loads)
}

async fn measure(store: &Store, backend: &str, args: &IngestArgs) -> anyhow::Result<String> {
    let loads = seed(store, args).await?;
    let batches: usize = loads.iter().map(|l| l.envelopes.len()).sum();
    let broker = crate::push::start_embedded_broker("127.0.0.1:0", None)?;
    let server_key = SigningKey::from_bytes(&crate::auth::random_bytes::<32>());
    let server_trusted = protocol::TrustedKey::new(server_key.verifying_key());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (delivery, delivery_task) = crate::push::start(
        crate::push::DeliveryOptions {
            broker_url: broker.url(),
            username: None,
            password: None,
            client_id: "ledcast-bench-server".into(),
            server_key,
            shared_subscription_group: Some("ledcast-ingest".into()),
            reconcile_window: Duration::from_millis(100),
            telemetry: Default::default(),
        },
        Arc::new(store.clone()),
        async move {
            let _ = stop_rx.await;
        },
    )
    .await?;
    let connected = instant();
    while !delivery.is_connected() {
        anyhow::ensure!(
            connected.elapsed() < Duration::from_secs(10),
            "the bench's server client did not connect"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the server's subscriptions land before agents publish.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Agents: each connection carries several screens. Like the real agent,
    // a screen has one batch in flight: the next goes out when the ack for
    // it arrives, and an unacked batch is sent again after 5 s. One batch in
    // 20 is also sent twice at once (a resend crossing its ack).
    let mut groups: Vec<Vec<ScreenLoad>> = (0..AGENT_CLIENTS).map(|_| Vec::new()).collect();
    for (i, load) in loads.into_iter().enumerate() {
        groups[i % AGENT_CLIENTS].push(load);
    }
    let (go_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut agents = Vec::new();
    let mut ready = Vec::new();
    for (g, group) in groups.into_iter().enumerate() {
        if group.is_empty() {
            continue;
        }
        let mut options = crate::push::mqtt_options(&broker.url(), &format!("bench-agent-{g}"))?;
        options.set_inflight(200);
        let (client, mut eventloop) = AsyncClient::new(options, 4096);
        let mut go = go_tx.subscribe();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
        ready.push(ready_rx);
        let trusted = server_trusted.clone();
        agents.push(tokio::spawn(async move {
            let filters: Vec<_> = group
                .iter()
                .map(|l| {
                    rumqttc::SubscribeFilter::new(
                        Topic::name(&l.screen_id, TopicKind::Ack),
                        QoS::AtLeastOnce,
                    )
                })
                .collect();
            client.subscribe_many(filters).await?;
            loop {
                let event = tokio::time::timeout(Duration::from_secs(10), eventloop.poll())
                    .await
                    .context("no SUBACK within 10 s")??;
                if matches!(event, Event::Incoming(Packet::SubAck(_))) {
                    break;
                }
            }
            let _ = ready_tx.send(());
            let _ = go.recv().await;
            let by_screen: HashMap<protocol::ScreenId, usize> = group
                .iter()
                .enumerate()
                .map(|(i, l)| (l.screen_id.clone(), i))
                .collect();
            // Per screen: index of the batch in flight and when it was sent.
            let mut in_flight: Vec<(usize, std::time::Instant)> = vec![(0, instant()); group.len()];
            let mut sent = 0usize;
            let mut resent = 0usize;
            let send = |load: &ScreenLoad, i: usize, sent: &mut usize, resent: &mut usize| {
                let topic = Topic::name(&load.screen_id, TopicKind::Plays);
                let envelope = load.envelopes[i].1.clone();
                *sent += 1;
                if (*sent).is_multiple_of(20) {
                    *resent += 1;
                    client.try_publish(topic.clone(), QoS::AtLeastOnce, false, envelope.clone())?;
                }
                client.try_publish(topic, QoS::AtLeastOnce, false, envelope)?;
                anyhow::Ok(())
            };
            for load in &group {
                send(load, 0, &mut sent, &mut resent)?;
            }
            let mut remaining = group.len();
            let mut acks = 0u64;
            let mut finished_at = None;
            let mut last_progress = instant();
            while remaining > 0 {
                anyhow::ensure!(
                    last_progress.elapsed() < Duration::from_secs(60),
                    "no ack for 60 s"
                );
                let event = match tokio::time::timeout(Duration::from_millis(500), eventloop.poll())
                    .await
                {
                    Ok(event) => event?,
                    Err(_) => Event::Outgoing(rumqttc::Outgoing::PingReq),
                };
                if let Event::Incoming(Packet::Publish(p)) = event {
                    let ack: protocol::Ack = protocol::open(&p.payload, &trusted)
                        .map_err(|e| anyhow::anyhow!("bad ack: {e}"))?;
                    acks += 1;
                    last_progress = instant();
                    let Some(&s) = by_screen.get(&ack.screen_id) else {
                        continue;
                    };
                    let load = &group[s];
                    let (i, _) = in_flight[s];
                    if i < load.envelopes.len() && load.envelopes[i].0 == ack.upto_seq {
                        let next = i + 1;
                        in_flight[s] = (next, instant());
                        if next < load.envelopes.len() {
                            send(load, next, &mut sent, &mut resent)?;
                        } else {
                            remaining -= 1;
                            if remaining == 0 {
                                finished_at = Some(instant());
                            }
                        }
                    }
                }
                for (s, load) in group.iter().enumerate() {
                    let (i, at) = in_flight[s];
                    if i < load.envelopes.len() && at.elapsed() > Duration::from_secs(5) {
                        in_flight[s].1 = instant();
                        resent += 1;
                        sent += 1;
                        let topic = Topic::name(&load.screen_id, TopicKind::Plays);
                        client.try_publish(
                            topic,
                            QoS::AtLeastOnce,
                            false,
                            load.envelopes[i].1.clone(),
                        )?;
                    }
                }
            }
            anyhow::Ok((acks, resent, finished_at))
        }));
    }
    for r in ready {
        r.await.context("an agent failed before subscribing")?;
    }
    let started = instant();
    let _ = go_tx.send(());
    let mut acks = 0u64;
    let mut resent = 0usize;
    let mut finished = started;
    for agent in agents {
        let (a, r, at) = agent.await??;
        acks += a;
        resent += r;
        if let Some(at) = at {
            finished = finished.max(at);
        }
    }
    let elapsed = finished.duration_since(started);
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), delivery_task).await;

    let row = sqlx::query("SELECT COUNT(*) AS n FROM play_records")
        .fetch_one(store.pool())
        .await?;
    let stored = crate::store::to_u64(row.try_get("n")?);
    let row = sqlx::query("SELECT CAST(COALESCE(SUM(plays), 0) AS BIGINT) AS n FROM play_daily")
        .fetch_one(store.pool())
        .await?;
    let counted = crate::store::to_u64(row.try_get("n")?);
    let expected = args.records as u64;
    let lost = expected.saturating_sub(stored);
    let duplicated = stored.saturating_sub(expected) + counted.saturating_sub(stored);
    let inserted = delivery
        .metrics()
        .play_records_inserted
        .load(std::sync::atomic::Ordering::Relaxed);
    anyhow::ensure!(
        inserted == stored,
        "the server counted {inserted} new records, the database holds {stored}"
    );
    Ok(format!(
        "ingest backend={backend} records={} per_s={:.0} lost={lost} duplicated={duplicated} \
         (batch={} screens={} batches={batches} resent={} acks={acks} seconds={:.2})",
        args.records,
        args.records as f64 / elapsed.as_secs_f64().max(1e-9),
        args.batch,
        args.screens,
        resent,
        elapsed.as_secs_f64(),
    ))
}
