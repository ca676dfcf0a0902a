//! The broker topic matrix, held against an enrolled device (issue 17,
//! item 2), on the embedded broker with the server's real login check and
//! on Mosquitto with the files `ledcast-server broker-config mosquitto`
//! writes. Device A, enrolled through the API, tries what the attack did:
//! it subscribes to `ledcast/v1/#`, leaves junk retained on screen B's
//! rotation topic, deletes it with an empty retained publish, names it as
//! its Last Will, and publishes state and plays as B. It must get nothing
//! but its own topics, B's retained rotation must stay the server's, and
//! the server must get none of the forged messages — while A's own
//! subscriptions and writes keep working.
//!
//! The Mosquitto half needs the `mosquitto` binary. When `LEDCAST_TEST_MQTT`
//! is set (CI), a missing binary fails the test; otherwise it says so and
//! passes.

mod common;
use common::{enroll, mosquitto_binary, run_mosquitto, seeded_app};

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ledcast_protocol::v1::{agent_client_id, EnrollResponse, ScreenId, Topic, TopicKind};
use ledcast_server::push;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// One device's broker login.
struct Device {
    /// Its screen.
    screen: ScreenId,
    /// Broker user name.
    username: String,
    /// Broker password.
    password: String,
}

impl Device {
    fn from_enrollment(enrolled: EnrollResponse) -> Device {
        Device {
            screen: enrolled.screen_id,
            username: enrolled.broker_username,
            password: enrolled.broker_password,
        }
    }

    fn client_id(&self) -> String {
        agent_client_id(&self.screen)
    }
}

/// A broker to attack.
struct Target {
    /// Where it listens (127.0.0.1).
    port: u16,
    /// The server account's user name and password.
    server_login: (String, String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_broker_a_device_gets_and_touches_only_its_own_topics() {
    let dir = tempfile::tempdir().unwrap();
    let (state, app) = seeded_app(dir.path()).await;
    let a = Device::from_enrollment(enroll(&app, "branch1-door").await);
    let b = Device::from_enrollment(enroll(&app, "branch2-door").await);
    // The embedded broker with the server's own login check, as `serve` starts it.
    let store = Arc::new(OnceLock::new());
    let _ = store.set(state.store.clone());
    let auth = push::broker_auth(store, "server-pw".into());
    let broker = push::start_embedded_broker("127.0.0.1:0", Some(auth)).unwrap();
    let target = Target {
        port: broker.addr.port(),
        server_login: (push::SERVER_BROKER_USERNAME.into(), "server-pw".into()),
    };
    a_device_is_held_to_its_own_topics(&target, &a, &b).await;
    state.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mosquitto_a_device_gets_and_touches_only_its_own_topics() {
    let Some(binary) = mosquitto_binary() else {
        assert!(
            std::env::var_os("LEDCAST_TEST_MQTT").is_none(),
            "LEDCAST_TEST_MQTT is set but no mosquitto binary is installed"
        );
        eprintln!("mosquitto not installed; skipping the Mosquitto half (CI installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (state, app) = seeded_app(dir.path()).await;
    let a = Device::from_enrollment(enroll(&app, "branch1-door").await);
    let b = Device::from_enrollment(enroll(&app, "branch2-door").await);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = dir.path().join("mosquitto");
    let mut mqtt = state.config.mqtt.clone();
    mqtt.password = Some("server-pw".into());
    push::mosquitto::write_from_store(&state.store, &mqtt, &out, &format!("{port} 127.0.0.1"), &[])
        .await
        .unwrap();
    state.store.close().await;
    let _broker = run_mosquitto(&binary, &out, port);
    let target = Target {
        port,
        server_login: (push::SERVER_BROKER_USERNAME.into(), "server-pw".into()),
    };
    a_device_is_held_to_its_own_topics(&target, &a, &b).await;
}

/// The attack, and what must hold after it.
async fn a_device_is_held_to_its_own_topics(target: &Target, a: &Device, b: &Device) {
    let rotation_a = b"rotation for A, sealed by the server".to_vec();
    let rotation_b = b"rotation for B, sealed by the server".to_vec();
    let (server_user, server_pass) = &target.server_login;
    let (server, mut server_loop) = connect(target, "acl-test-server", server_user, server_pass)
        .await
        .expect("the server account logs in");
    server
        .subscribe_many([
            rumqttc::SubscribeFilter::new(Topic::filter_all(TopicKind::State), QoS::AtLeastOnce),
            rumqttc::SubscribeFilter::new(Topic::filter_all(TopicKind::Plays), QoS::AtLeastOnce),
        ])
        .await
        .unwrap();
    for (screen, body) in [(&a.screen, &rotation_a), (&b.screen, &rotation_b)] {
        server
            .publish(
                Topic::name(screen, TopicKind::Rotation),
                QoS::AtLeastOnce,
                true,
                body.clone(),
            )
            .await
            .unwrap();
    }
    let mut server_received = Vec::new();
    let mut acks = 0;
    let mut subscribed = false;
    poll_until(&mut server_loop, Duration::from_secs(5), |event| {
        match event {
            Event::Incoming(Packet::PubAck(_)) => acks += 1,
            Event::Incoming(Packet::SubAck(_)) => subscribed = true,
            Event::Incoming(Packet::Publish(p)) => server_received.push(p.topic.clone()),
            _ => {}
        }
        acks == 2 && subscribed
    })
    .await
    .expect("the server's subscriptions and retained rotations are acknowledged");

    // A listens on everything it can, and on its own topics by name.
    let (listener, mut a_loop) = connect(target, &a.client_id(), &a.username, &a.password)
        .await
        .expect("device A logs in with its own client id");
    let own_reads = [
        TopicKind::Rotation,
        TopicKind::Command,
        TopicKind::Ack,
        TopicKind::State,
    ];
    listener
        .subscribe("ledcast/v1/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    for kind in own_reads {
        listener
            .subscribe(Topic::name(&a.screen, kind), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    let mut codes = Vec::new();
    let mut a_received = Vec::new();
    poll_until(&mut a_loop, Duration::from_secs(5), |event| {
        match event {
            Event::Incoming(Packet::SubAck(s)) => codes.extend(s.return_codes.clone()),
            Event::Incoming(Packet::Publish(p)) => a_received.push(p.topic.clone()),
            _ => {}
        }
        codes.len() == 1 + own_reads.len()
    })
    .await
    .expect("the broker answers all of A's subscriptions");
    assert!(
        codes[1..]
            .iter()
            .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_))),
        "A may subscribe to its own rotation, command, ack and state: {codes:?}"
    );

    // Traffic of both screens: B reports, the server commands and acks both.
    let (screen_b, mut b_loop) = connect(target, &b.client_id(), &b.username, &b.password)
        .await
        .expect("device B logs in");
    for kind in [TopicKind::State, TopicKind::Plays] {
        screen_b
            .publish(
                Topic::name(&b.screen, kind),
                QoS::AtLeastOnce,
                kind == TopicKind::State,
                b"B's own report".to_vec(),
            )
            .await
            .unwrap();
    }
    let mut b_acks = 0;
    poll_until(&mut b_loop, Duration::from_secs(5), |event| {
        b_acks += usize::from(matches!(event, Event::Incoming(Packet::PubAck(_))));
        b_acks == 2
    })
    .await
    .expect("B's own state and plays are acknowledged");
    for screen in [&a.screen, &b.screen] {
        for kind in [TopicKind::Command, TopicKind::Ack] {
            server
                .publish(
                    Topic::name(screen, kind),
                    QoS::AtLeastOnce,
                    false,
                    b"signed by the server".to_vec(),
                )
                .await
                .unwrap();
        }
    }
    let server_task = tokio::spawn(async move {
        let _ = poll_until(&mut server_loop, Duration::from_secs(2), |event| {
            if let Event::Incoming(Packet::Publish(p)) = event {
                server_received.push(p.topic.clone());
            }
            false
        })
        .await;
        (server_loop, server_received)
    });
    let _ = poll_until(&mut a_loop, Duration::from_secs(2), |event| {
        if let Event::Incoming(Packet::Publish(p)) = event {
            a_received.push(p.topic.clone());
        }
        false
    })
    .await;
    let (mut server_loop, server_received) = server_task.await.unwrap();
    let a_topics: BTreeSet<String> = a_received.into_iter().collect();
    let own: BTreeSet<String> = [TopicKind::Rotation, TopicKind::Command, TopicKind::Ack]
        .into_iter()
        .map(|kind| Topic::name(&a.screen, kind))
        .collect();
    assert_eq!(
        a_topics, own,
        "subscribed to ledcast/v1/#, device A gets its own rotation, command and ack and nothing of B's"
    );
    let b_reports: BTreeSet<String> = [TopicKind::State, TopicKind::Plays]
        .into_iter()
        .map(|kind| Topic::name(&b.screen, kind))
        .collect();
    assert_eq!(
        server_received.into_iter().collect::<BTreeSet<_>>(),
        b_reports,
        "the server account reads every screen's state and plays"
    );
    drop(screen_b);
    drop(b_loop);
    listener.disconnect().await.unwrap();
    let _ = poll_until(&mut a_loop, Duration::from_secs(2), |_| false).await;

    // The attacks, each on a fresh connection of A (a broker may drop it).
    let rotation_b_topic = Topic::name(&b.screen, TopicKind::Rotation);
    publish_as(target, a, &rotation_b_topic, b"junk", true).await;
    publish_as(target, a, &rotation_b_topic, b"", true).await;
    publish_as(
        target,
        a,
        &Topic::name(&b.screen, TopicKind::State),
        b"forged",
        true,
    )
    .await;
    publish_as(
        target,
        a,
        &Topic::name(&b.screen, TopicKind::Plays),
        b"forged",
        false,
    )
    .await;
    // A Last Will that would delete B's rotation when A's connection drops.
    let will = LastWill::new(&rotation_b_topic, Vec::new(), QoS::AtLeastOnce, true);
    if let Some((client, eventloop)) =
        connect_with(target, &a.client_id(), &a.username, &a.password, Some(will)).await
    {
        // Dropped without DISCONNECT: a Will that was accepted fires now.
        drop(client);
        drop(eventloop);
    }
    // A's own report still gets through, and marks the end of the attacks.
    publish_as(
        target,
        a,
        &Topic::name(&a.screen, TopicKind::Plays),
        b"mine",
        false,
    )
    .await;
    let mut after_attack = Vec::new();
    let own_plays = Topic::name(&a.screen, TopicKind::Plays);
    let got_own = poll_until(&mut server_loop, Duration::from_secs(5), |event| {
        if let Event::Incoming(Packet::Publish(p)) = event {
            after_attack.push(p.topic.clone());
            return p.topic == own_plays;
        }
        false
    })
    .await;
    let _ = poll_until(&mut server_loop, Duration::from_millis(500), |event| {
        if let Event::Incoming(Packet::Publish(p)) = event {
            after_attack.push(p.topic.clone());
        }
        false
    })
    .await;
    assert!(
        got_own.is_some(),
        "A's own plays reach the server: {after_attack:?}"
    );
    assert_eq!(
        after_attack,
        vec![own_plays],
        "the server gets no state or plays that A published as B"
    );

    // B's retained rotation is still the server's (and A's too).
    server
        .subscribe(&rotation_b_topic, QoS::AtLeastOnce)
        .await
        .unwrap();
    server
        .subscribe(
            Topic::name(&a.screen, TopicKind::Rotation),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let mut retained = Vec::new();
    let _ = poll_until(&mut server_loop, Duration::from_secs(3), |event| {
        if let Event::Incoming(Packet::Publish(p)) = event {
            if p.topic.ends_with("/rotation") {
                retained.push((p.topic.clone(), p.payload.to_vec()));
            }
        }
        retained.len() == 2
    })
    .await;
    retained.sort();
    let mut expected = vec![
        (Topic::name(&a.screen, TopicKind::Rotation), rotation_a),
        (rotation_b_topic.clone(), rotation_b),
    ];
    expected.sort();
    assert_eq!(
        retained,
        expected,
        "A can neither replace nor delete B's retained rotation (got {})",
        retained
            .iter()
            .map(|(t, p)| format!("{t}: {:?}", String::from_utf8_lossy(p)))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Publishes on a fresh connection of `device` at QoS 1 and waits until the
/// broker acknowledged it or dropped the connection.
async fn publish_as(target: &Target, device: &Device, topic: &str, body: &[u8], retain: bool) {
    let (client, mut eventloop) = connect(
        target,
        &device.client_id(),
        &device.username,
        &device.password,
    )
    .await
    .expect("the device logs in");
    client
        .publish(topic, QoS::AtLeastOnce, retain, body.to_vec())
        .await
        .unwrap();
    let _ = poll_until(&mut eventloop, Duration::from_secs(3), |event| {
        matches!(event, Event::Incoming(Packet::PubAck(_)))
    })
    .await;
    let _ = client.disconnect().await;
    let _ = poll_until(&mut eventloop, Duration::from_secs(1), |_| false).await;
}

async fn connect(
    target: &Target,
    client_id: &str,
    user: &str,
    pass: &str,
) -> Option<(AsyncClient, Events)> {
    connect_with(target, client_id, user, pass, None).await
}

/// A connection's events, polled by a task of its own so that keep-alives
/// go out while the test waits elsewhere. Dropping it drops the connection
/// without DISCONNECT; it ends when the connection does.
type Events = mpsc::UnboundedReceiver<Event>;

/// Logs in; `None` when the broker refuses the connection.
async fn connect_with(
    target: &Target,
    client_id: &str,
    user: &str,
    pass: &str,
    will: Option<LastWill>,
) -> Option<(AsyncClient, Events)> {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", target.port);
    options.set_credentials(user, pass);
    options.set_keep_alive(Duration::from_secs(5));
    if let Some(will) = will {
        options.set_last_will(will);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    match tokio::time::timeout(Duration::from_secs(5), eventloop.poll()).await {
        Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {}
        Ok(_) => return None,
        Err(_) => panic!("the broker did not answer a CONNECT within 5 s"),
    }
    let (events_tx, events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                event = eventloop.poll() => match event {
                    Ok(event) => {
                        if events_tx.send(event).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                () = events_tx.closed() => return,
            }
        }
    });
    Some((client, events))
}

/// Takes events until `done` says so (`Some`), the connection ends or
/// `within` passes (`None`).
async fn poll_until(
    events: &mut Events,
    within: Duration,
    mut done: impl FnMut(&Event) -> bool,
) -> Option<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => {
                if done(&event) {
                    return Some(());
                }
            }
            Ok(None) | Err(_) => return None,
        }
    }
}
