//! The broker's own floor: N raw rumqttc subscribers, each on its own
//! topic, receive one retained QoS 1 message of a rotation's size and
//! answer on a shared ack topic; the time from the first publish to the
//! last ack. Measured twice: the first round creates the topics (rumqttd,
//! the embedded broker before rmqtt, paid seconds for thousands of new topics), the second is the floor
//! ledcast is compared with (its rotation topics exist when it changes them).

use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

use super::clock;

/// Both rounds, in ms.
#[derive(Clone, Copy, Debug)]
pub struct Floor {
    /// First publish to new topics → last ack.
    pub first_ms: f64,
    /// Second publish to the same topics → last ack (the floor).
    pub floor_ms: f64,
    /// CPU time this process used in the floor round (all threads: broker,
    /// publisher, subscribers), in ms.
    pub cpu_ms: f64,
}

fn options(url: &str, id: &str, login: &Option<(String, String)>) -> anyhow::Result<MqttOptions> {
    let mut options = ledcast_server::push::mqtt_options(url, id)?;
    if let Some((user, pass)) = login {
        options.set_credentials(user, pass);
    }
    options.set_keep_alive(Duration::from_secs(60));
    options.set_clean_session(true);
    Ok(options)
}

/// Subscribers whose acks go to one collecting client.
const ACKS_PER_COLLECTOR: usize = 500;

/// Runs the floor with `n` subscribers connecting at `rate` per second.
pub async fn measure(
    url: &str,
    login: Option<(String, String)>,
    n: usize,
    size: usize,
    rate: u32,
) -> anyhow::Result<Floor> {
    let run = ledcast_server::auth::random_hex::<4>();
    // Acks go to one collector per ACKS_PER_COLLECTOR subscribers: a broker
    // queues at most so many messages for one client (Mosquitto: 1000 by
    // default, dropping the rest), and the server's own ingest gets the
    // same treatment (see ledcast_server::push).
    let collectors = n.div_ceil(ACKS_PER_COLLECTOR).max(1);
    let ack_topic = |i: usize| format!("fleet-floor/{run}/ack/{}", i / ACKS_PER_COLLECTOR);
    let topic = |i: usize| format!("fleet-floor/{run}/s/{i}");

    let (acks_tx, mut acks_rx) = mpsc::unbounded_channel::<(u8, u32, Instant)>();
    let (sub_ready_tx, mut sub_ready_rx) = mpsc::unbounded_channel::<()>();
    let mut tasks = Vec::new();
    let mut collector_clients = Vec::new();
    for c in 0..collectors {
        let (collector, mut collector_loop) = AsyncClient::new(
            options(url, &format!("floor-{run}-acks-{c}"), &login)?,
            1024,
        );
        collector
            .subscribe(ack_topic(c * ACKS_PER_COLLECTOR), QoS::AtLeastOnce)
            .await?;
        collector_clients.push(collector);
        let (ready, acks_tx) = (sub_ready_tx.clone(), acks_tx.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                match collector_loop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.payload.len() == 5 => {
                        let index =
                            u32::from_le_bytes(p.payload[1..5].try_into().unwrap_or([0; 4]));
                        let _ = acks_tx.send((p.payload[0], index, clock()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }));
    }
    drop(acks_tx);
    // The subscribers.
    let mut clients = Vec::with_capacity(n);
    let pause = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    for i in 0..n {
        let (client, mut eventloop) =
            AsyncClient::new(options(url, &format!("floor-{run}-{i}"), &login)?, 16);
        client.subscribe(topic(i), QoS::AtLeastOnce).await?;
        let (me, ack_topic, ready) = (client.clone(), ack_topic(i), sub_ready_tx.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if !p.payload.is_empty() => {
                        let mut ack = vec![p.payload[0]];
                        ack.extend_from_slice(&(i as u32).to_le_bytes());
                        let _ = me.try_publish(&ack_topic, QoS::AtLeastOnce, false, ack);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }));
        clients.push(client);
        tokio::time::sleep(pause).await;
    }
    drop(sub_ready_tx);
    for got in 0..n + collectors {
        tokio::time::timeout(Duration::from_secs(120), sub_ready_rx.recv())
            .await
            .with_context(|| {
                format!(
                    "floor: only {got} of {} subscriptions acknowledged",
                    n + collectors
                )
            })?;
    }

    let (publisher, mut publisher_loop) =
        AsyncClient::new(options(url, &format!("floor-{run}-pub"), &login)?, 1024);
    tasks.push(tokio::spawn(async move {
        loop {
            if publisher_loop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }));
    let mut rounds = [0.0f64; 2];
    let mut cpu_ms = 0.0;
    for (round, out) in rounds.iter_mut().enumerate() {
        let cpu_before = super::process_cpu_ms();
        let mut payload = vec![b'x'; size.max(1)];
        payload[0] = round as u8 + 1;
        let started = clock();
        for i in 0..n {
            publisher
                .publish(topic(i), QoS::AtLeastOnce, true, payload.clone())
                .await?;
        }
        let mut seen = vec![false; n];
        let mut count = 0;
        let mut last = started;
        while count < n {
            let (r, index, at) = tokio::time::timeout(Duration::from_secs(180), acks_rx.recv())
                .await
                .with_context(|| format!("floor round {}: {count} of {n} acks", round + 1))?
                .context("ack collector stopped")?;
            let index = index as usize;
            if r == round as u8 + 1 && index < n && !seen[index] {
                seen[index] = true;
                count += 1;
                last = at;
            }
        }
        *out = last.duration_since(started).as_secs_f64() * 1000.0;
        cpu_ms = super::process_cpu_ms() - cpu_before;
    }
    // Leave no retained messages behind (the system broker persists them).
    for client in &clients {
        let _ = client.try_disconnect();
    }
    for i in 0..n {
        publisher
            .publish(topic(i), QoS::AtLeastOnce, true, Vec::<u8>::new())
            .await?;
    }
    let _ = publisher.disconnect().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for task in tasks {
        task.abort();
    }
    Ok(Floor {
        first_ms: rounds[0],
        floor_ms: rounds[1],
        cpu_ms,
    })
}
