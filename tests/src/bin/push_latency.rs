//! `cargo run --release -p ledcast-tests --bin push_latency [-- --broker-url mqtt://127.0.0.1:1883]`
//!
//! Measures the time from a change made through the HTTP API (an urgent
//! alert created, then ended, on the demo's service-hall wall) to the new
//! signed rotation arriving, retained, at a raw MQTT subscriber — i.e. API →
//! recompile → seal → store → publish → broker → subscriber. Prints the
//! median and spread of 20 samples per run as its last line:
//! `push_latency broker=B samples=20 median_ms=X p90_ms=Y max_ms=Z`.

use std::time::{Duration, Instant};

use anyhow::Context;
use ledcast_protocol::v1::{self as protocol, Topic, TopicKind};
use ledcast_server::demo::{self, DemoArgs};
use rumqttc::{AsyncClient, Event, Packet, QoS};

const SAMPLES: usize = 20;

/// This benchmark's one clock read.
#[allow(clippy::disallowed_methods)]
fn clock_now() -> Instant {
    Instant::now()
}
const SCREEN: &str = "hall-wall";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let broker_url = args
        .iter()
        .position(|a| a == "--broker-url")
        .and_then(|i| args.get(i + 1).cloned());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let data = tempfile::tempdir()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let demo = demo::start(
        DemoArgs {
            data_dir: Some(data.path().to_path_buf()),
            playlists: root.join("playlists"),
            media: root.join("media"),
            no_agents: true,
            broker_url: broker_url.clone(),
            no_history: true,
        },
        async {
            let _ = stopped.await;
        },
    )
    .await?;
    let state = demo.running.state.clone();
    let trusted = protocol::TrustedKey::new(state.signing_key.verifying_key());

    // An API token for the demo editor.
    let editor = state
        .store
        .user_by_name("demo-editor")
        .await?
        .context("demo-editor")?;
    let token = ledcast_server::auth::random_hex::<24>();
    let now = ledcast_server::clock::now().as_millis();
    state
        .store
        .create_api_token(
            &ledcast_server::auth::random_hex::<6>(),
            &ledcast_server::auth::token_sha256(&token),
            &editor.id,
            "push_latency",
            now,
        )
        .await?;
    let material = state
        .store
        .list_materials(&Default::default())
        .await?
        .into_iter()
        .find(|m| {
            m.state == ledcast_server::store::MaterialState::Approved
                && m.is_warning
                && m.kind == ledcast_server::store::MaterialKind::Poster
        })
        .context("an approved warning poster in the demo")?;

    // A raw subscriber on the wall's rotation topic.
    let screen = protocol::ScreenId::new(SCREEN)?;
    let mut options =
        ledcast_server::push::mqtt_options(&demo.running.broker_url, "latency-probe")?;
    if let Some((user, pass)) = &demo.running.embedded_broker_login {
        options.set_credentials(user, pass);
    }
    options.set_keep_alive(Duration::from_secs(30));
    let (probe, mut probe_loop) = AsyncClient::new(options, 64);
    probe
        .subscribe(Topic::name(&screen, TopicKind::Rotation), QoS::AtLeastOnce)
        .await?;
    let (versions_tx, mut versions_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    tokio::spawn(async move {
        while let Ok(event) = probe_loop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                if let Ok(r) = protocol::open::<protocol::Rotation>(&p.payload, &trusted) {
                    let _ = versions_tx.send((r.version, clock_now()));
                }
            }
        }
    });
    let mut highest = 0;
    while let Ok(Some((version, _))) =
        tokio::time::timeout(Duration::from_secs(3), versions_rx.recv()).await
    {
        highest = highest.max(version);
    }

    let base = format!("http://{}", demo.running.http_addr);
    let mut samples = Vec::new();
    for i in 0..SAMPLES {
        let started = clock_now();
        let (base2, token2, material2) = (base.clone(), token.clone(), material.id.clone());
        let until = ledcast_server::clock::now().as_millis() + 3_600_000;
        let created: serde_json::Value = tokio::task::spawn_blocking(move || {
            ureq::post(&format!("{base2}/api/v1/alerts"))
                .set("authorization", &format!("Bearer {token2}"))
                .send_json(serde_json::json!({
                    "material_id": material2,
                    "targets": {"screens": [SCREEN]},
                    "until": until,
                }))
                .map_err(|e| anyhow::anyhow!("creating alert {i}: {e}"))?
                .into_json::<serde_json::Value>()
                .context("alert response")
        })
        .await??;
        let arrived = loop {
            let (version, at) = tokio::time::timeout(Duration::from_secs(30), versions_rx.recv())
                .await
                .context("no new rotation within 30 s")?
                .context("probe stopped")?;
            if version > highest {
                highest = version;
                break at;
            }
        };
        samples.push(arrived.duration_since(started));
        // End it again (also a change; not timed) and wait for that version.
        let id = created["id"].as_str().context("alert id")?.to_owned();
        let (base2, token2) = (base.clone(), token.clone());
        tokio::task::spawn_blocking(move || {
            ureq::post(&format!("{base2}/api/v1/alerts/{id}/end"))
                .set("authorization", &format!("Bearer {token2}"))
                .send_json(serde_json::json!({}))
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("ending alert: {e}"))
        })
        .await??;
        loop {
            let (version, _) = tokio::time::timeout(Duration::from_secs(30), versions_rx.recv())
                .await
                .context("no rotation after ending the alert")?
                .context("probe stopped")?;
            if version > highest {
                highest = version;
                break;
            }
        }
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "push_latency broker={} samples={} median_ms={:.1} p90_ms={:.1} max_ms={:.1}",
        broker_url.as_deref().unwrap_or("embedded"),
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 9 / 10]),
        ms(*samples.last().unwrap())
    );
    let _ = stop.send(());
    demo.wait().await
}
