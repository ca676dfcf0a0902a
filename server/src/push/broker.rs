//! The embedded MQTT broker (rmqtt), for one-command installs and the demo.
//!
//! Sized for a town: up to 20,000 connections, 300 KiB packets, retained
//! messages in memory, shared subscriptions (`$share/group/…`).
//!
//! **Invariant: on the embedded broker, as on Mosquitto, a device reads only
//! its own `rotation`, `command`, `ack` and `state` topics and writes only its
//! own `state` and `plays`** — the matrix of
//! [`protocol::TopicKind::device_access`], which also writes the Mosquitto ACL
//! (`mosquitto.rs`). With an auth hook, every login is either the server
//! (full access) or one device; a device must use its own agent client id
//! ([`protocol::agent_client_id`]), so its session's client id names its
//! screen, and the ACL checks every subscription filter, every publish and
//! the Last Will (at connect: rmqtt fires a Will without an ACL check)
//! against that screen's row of the matrix. A device may subscribe only to
//! exact topic names, never to a wildcard, and a write outside its row
//! disconnects it. Without an auth hook (tests, benches) anyone may connect
//! and do anything.
//!
//! It does not persist anything: retained rotations live in memory, and the
//! server republishes every current rotation after a restart.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledcast_protocol::v1::{self as protocol, ScreenId, Topic};
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::net::Builder;
use rmqtt::retain::{DefaultRetainStorage, RetainStorage};
use rmqtt::server::MqttServer;
use rmqtt::subscribe::SharedSubscription;
use rmqtt::types::{
    AuthResult, ClientId, ConnectInfo, Id, IsOnline, LastWill, NodeId, PublishAclResult, Retain,
    SharedGroup, SubscribeAclResult, SubscriptionIdentifier, SubscriptionOptions, TopicFilter,
    TopicName,
};

use super::BoxFuture;

/// Why the embedded broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// `embedded_listen` does not parse as host:port.
    #[error("mqtt.embedded_listen {listen:?} is not a host:port address")]
    BadAddress { listen: String },
    /// Someone else listens there already.
    #[error(
        "cannot start the embedded MQTT broker: {addr} is already in use; \
         set [mqtt] embedded_listen to a free address (e.g. \"127.0.0.1:0\" for any free port) \
         or point [mqtt] broker_url at the broker that runs there"
    )]
    AddressInUse { addr: SocketAddr },
    /// Binding failed for another reason.
    #[error("cannot bind the embedded MQTT broker to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The broker thread did not come up.
    #[error("the embedded MQTT broker did not start listening on {addr} within 10 s")]
    NotListening { addr: SocketAddr },
}

/// Who a broker login is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerLogin {
    /// The server's own account: every topic.
    Server,
    /// One enrolled device: its own topics only, and only with its own
    /// agent client id.
    Device(ScreenId),
}

/// Checks a broker login: `(client_id, username, password) -> who`, `None`
/// to refuse it.
pub type BrokerAuth =
    Arc<dyn Fn(String, String, String) -> BoxFuture<'static, Option<BrokerLogin>> + Send + Sync>;

/// A running embedded broker. It runs on its own threads until the process exits.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    /// Where it listens (the real port when `:0` was asked for).
    pub addr: SocketAddr,
}

impl EmbeddedBroker {
    /// `mqtt://host:port` for clients.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

/// Largest MQTT message the broker accepts: an envelope cap plus headroom.
pub const MAX_PAYLOAD_BYTES: usize = 300 * 1024;

/// Messages the broker queues for one client beyond those in flight. The
/// server takes every screen's state and play batches on one connection: a
/// fleet of 20,000 reporting at once must fit (as `max_queued_messages` in
/// the Mosquitto configuration).
pub const MAX_QUEUED_MESSAGES: usize = 100_000;

/// Most connections the embedded broker accepts.
pub const MAX_CONNECTIONS: usize = 20_000;

/// Starts the broker on `listen` (`host:port`; port 0 picks a free port).
/// With `auth`, every client must log in and devices are held to their own
/// topics; without, anyone may connect and use any topic.
pub fn start_embedded_broker(
    listen: &str,
    auth: Option<BrokerAuth>,
) -> Result<EmbeddedBroker, BrokerError> {
    let requested = listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| BrokerError::BadAddress {
            listen: listen.to_owned(),
        })?;
    // Bind once here: a taken port becomes a clear error, and `:0` a real
    // port that the broker then binds itself.
    let addr = match TcpListener::bind(requested) {
        Ok(probe) => probe.local_addr().map_err(|source| BrokerError::Bind {
            addr: requested,
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(BrokerError::AddressInUse { addr: requested })
        }
        Err(source) => {
            return Err(BrokerError::Bind {
                addr: requested,
                source,
            })
        }
    };

    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), BrokerError>>();
    std::thread::Builder::new()
        .name("mqtt-broker".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .thread_name("mqtt-broker")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(source) => {
                    let _ = ready_tx.send(Err(BrokerError::Bind { addr, source }));
                    return;
                }
            };
            runtime.block_on(run(addr, auth, ready_tx));
        })
        .map_err(|source| BrokerError::Bind { addr, source })?;
    match ready_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {
            tracing::info!(%addr, "embedded MQTT broker listening");
            Ok(EmbeddedBroker { addr })
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Err(BrokerError::NotListening { addr }),
    }
}

/// Whether a device of `screen` may subscribe to `filter`: one of its own
/// readable topics, by exact name (no wildcards, no shared subscriptions).
pub fn device_may_subscribe(screen: &ScreenId, filter: &str) -> bool {
    Topic::parse(filter)
        .is_some_and(|topic| topic.screen_id == *screen && topic.kind.device_access().read())
}

/// Whether a device of `screen` may publish to `topic` (or name it as its
/// Last Will): one of its own writable topics.
pub fn device_may_publish(screen: &ScreenId, topic: &str) -> bool {
    Topic::parse(topic)
        .is_some_and(|topic| topic.screen_id == *screen && topic.kind.device_access().write())
}

/// Builds the broker on this thread's runtime, reports the bind, and runs
/// until the process exits.
async fn run(
    addr: SocketAddr,
    auth: Option<BrokerAuth>,
    ready: std::sync::mpsc::Sender<Result<(), BrokerError>>,
) {
    let scx = ServerContext::new()
        // rmqtt refuses connections while the host's load is high; the
        // fleet shares its host with the server, so never.
        .busy_check_enable(false)
        .build()
        .await;
    *scx.extends.retain_mut().await = Box::new(RetainedInMemory::default());
    *scx.extends.shared_subscription_mut().await = Box::new(SharedRoundRobin::default());
    // Keep the register alive with the broker.
    let _register = match auth {
        Some(auth) => {
            let register = scx.extends.hook_mgr().register();
            for typ in [
                Type::ClientAuthenticate,
                Type::ClientSubscribeCheckAcl,
                Type::MessagePublishCheckAcl,
            ] {
                register
                    .add(typ, Box::new(AclHandler { auth: auth.clone() }))
                    .await;
            }
            register.start().await;
            Some(register)
        }
        None => None,
    };
    let listener = Builder::new()
        .name("ledcast-embedded")
        .laddr(addr)
        .allow_anonymous(_register.is_none())
        .max_connections(MAX_CONNECTIONS)
        .max_handshaking_limit(MAX_CONNECTIONS)
        .max_packet_size(MAX_PAYLOAD_BYTES as u32)
        .max_inflight(NonZeroU16::new(100).expect("non-zero"))
        .max_mqueue_len(MAX_QUEUED_MESSAGES)
        .bind()
        .and_then(|listener| listener.tcp());
    let listener = match listener {
        Ok(listener) => listener,
        Err(error) => {
            let in_use = error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::AddrInUse);
            let _ = ready.send(Err(if in_use {
                BrokerError::AddressInUse { addr }
            } else {
                BrokerError::Bind {
                    addr,
                    source: std::io::Error::other(error.to_string()),
                }
            }));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    if let Err(error) = MqttServer::new(scx)
        .listener_by_id(listener, addr.port())
        .build()
        .run()
        .await
    {
        tracing::error!(%error, "embedded MQTT broker stopped");
    }
}

/// The auth hook and the per-topic ACL.
struct AclHandler {
    /// Who a login is.
    auth: BrokerAuth,
}

#[async_trait::async_trait]
impl Handler for AclHandler {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(connect_info) => {
                let allowed = self.authenticate(connect_info).await;
                (false, Some(HookResult::AuthResult(allowed)))
            }
            // The server's sessions are superusers and never get here.
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let client_id: &str = &session.id.client_id;
                let filter: &str = &subscribe.topic_filter;
                let allowed = protocol::agent_client_screen(client_id)
                    .is_some_and(|screen| device_may_subscribe(&screen, filter));
                let result = if allowed {
                    SubscribeAclResult::new_success(subscribe.opts.qos(), None)
                } else {
                    tracing::warn!(%client_id, %filter, "broker: a device's subscription outside its own topics refused");
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let client_id: &str = &session.id.client_id;
                let topic: &str = &publish.topic;
                let allowed = protocol::agent_client_screen(client_id)
                    .is_some_and(|screen| device_may_publish(&screen, topic));
                let result = if allowed {
                    PublishAclResult::allow()
                } else {
                    tracing::warn!(%client_id, %topic, "broker: a device's publish outside its own topics refused; disconnecting it");
                    PublishAclResult::rejected(true, None)
                };
                (false, Some(HookResult::PublishAclResult(result)))
            }
            _ => (true, acc),
        }
    }
}

impl AclHandler {
    async fn authenticate(&self, connect_info: &ConnectInfo) -> AuthResult {
        let client_id = connect_info.client_id().to_string();
        let username = connect_info
            .username()
            .map(|name| name.to_string())
            .unwrap_or_default();
        let password = connect_info
            .password()
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default();
        match (self.auth)(client_id.clone(), username.clone(), password).await {
            None => AuthResult::NotAuthorized,
            Some(BrokerLogin::Server) => AuthResult::Allow(true, None),
            Some(BrokerLogin::Device(screen)) => {
                // The ACL reads the screen from the session's client id.
                if client_id != protocol::agent_client_id(&screen) {
                    tracing::warn!(%username, %client_id, "broker login refused: another screen's client id");
                    return AuthResult::NotAuthorized;
                }
                if let Some(will) = connect_info.last_will() {
                    let topic: &str = match &will {
                        LastWill::V3(will) => &will.topic,
                        LastWill::V5(will) => &will.topic,
                    };
                    if !device_may_publish(&screen, topic) {
                        tracing::warn!(%username, %topic, "broker login refused: a Last Will outside the device's own topics");
                        return AuthResult::NotAuthorized;
                    }
                }
                AuthResult::Allow(false, None)
            }
        }
    }
}

/// Retained messages in memory, kept until replaced or cleared.
///
/// rmqtt's own in-memory store is there but switched off (it wants its
/// retainer plugin); this switches it on and drops the listener's default
/// message expiry (5 min) for retained messages: a retained rotation must
/// stay until the server replaces it, as on Mosquitto.
#[derive(Default)]
struct RetainedInMemory {
    /// The store.
    messages: DefaultRetainStorage,
}

#[async_trait::async_trait]
impl RetainStorage for RetainedInMemory {
    fn enable(&self) -> bool {
        true
    }

    async fn set(
        &self,
        topic: &TopicName,
        retain: Retain,
        _expiry_interval: Option<Duration>,
    ) -> rmqtt::Result<()> {
        self.messages.set_with_timeout(topic, retain, None).await
    }

    async fn get(&self, topic_filter: &TopicFilter) -> rmqtt::Result<Vec<(TopicName, Retain)>> {
        self.messages.get_message(topic_filter).await
    }

    async fn count(&self) -> isize {
        self.messages.messages.read().await.values_size() as isize
    }

    async fn max(&self) -> isize {
        self.count().await
    }
}

/// Shared subscriptions (`$share/group/filter`): each message goes to one
/// online member of the group, in turn.
///
/// rmqtt parses `$share/…` in its core but its default strategy supports
/// none (it wants the `rmqtt-shared-subscription` plugin), so subscribers
/// of a shared filter got nothing.
#[derive(Default)]
struct SharedRoundRobin {
    /// Messages handed out so far, over all groups.
    next: AtomicUsize,
}

#[async_trait::async_trait]
impl SharedSubscription for SharedRoundRobin {
    fn is_supported(&self) -> bool {
        true
    }

    async fn choice(
        &self,
        scx: &ServerContext,
        _group: &SharedGroup,
        _publisher_id: &Id,
        _topic: &TopicName,
        members: &[(
            NodeId,
            ClientId,
            SubscriptionOptions,
            Option<Vec<SubscriptionIdentifier>>,
            Option<IsOnline>,
        )],
    ) -> Option<(usize, IsOnline)> {
        if members.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..members.len() {
            let index = (start + offset) % members.len();
            let (node_id, client_id, _, _, online) = &members[index];
            let online = match online {
                Some(online) => *online,
                None => {
                    scx.extends
                        .router()
                        .await
                        .is_online(*node_id, client_id)
                        .await
                }
            };
            if online {
                return Some((index, true));
            }
        }
        // Nobody online: queue it for one of them (a clean session drops it).
        Some((start % members.len(), false))
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;

    use ledcast_protocol::v1::TopicKind;

    use super::*;

    #[test]
    fn a_taken_port_is_a_clear_error_naming_the_option() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let error = start_embedded_broker(&addr, None).unwrap_err();
        assert!(matches!(error, BrokerError::AddressInUse { .. }), "{error}");
        assert!(error.to_string().contains("embedded_listen"), "{error}");
    }

    #[test]
    fn port_zero_gives_a_real_listening_port() {
        let broker = start_embedded_broker("127.0.0.1:0", None).unwrap();
        assert_ne!(broker.addr.port(), 0);
        assert!(TcpStream::connect(broker.addr).is_ok());
    }

    #[test]
    fn a_device_reads_and_writes_only_its_own_row_of_the_matrix() {
        let own = ScreenId::new("b1-door").unwrap();
        let other = ScreenId::new("b2-door").unwrap();
        for kind in TopicKind::ALL {
            let access = kind.device_access();
            assert_eq!(
                device_may_subscribe(&own, &Topic::name(&own, kind)),
                access.read()
            );
            assert_eq!(
                device_may_publish(&own, &Topic::name(&own, kind)),
                access.write()
            );
            assert!(!device_may_subscribe(&own, &Topic::name(&other, kind)));
            assert!(!device_may_publish(&own, &Topic::name(&other, kind)));
            assert!(!device_may_subscribe(&own, &Topic::filter_all(kind)));
        }
        for filter in [
            "#",
            "ledcast/v1/#",
            "ledcast/v1/screens/b1-door/#",
            "ledcast/v1/screens/b1-door/+",
            "$share/g/ledcast/v1/screens/b1-door/rotation",
            "ledcast/v1/screens/b1-door/rotation/extra",
        ] {
            assert!(!device_may_subscribe(&own, filter), "{filter}");
            assert!(!device_may_publish(&own, filter), "{filter}");
        }
    }
}
