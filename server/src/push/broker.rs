//! The embedded MQTT broker (rumqttd), for one-command installs and the demo.
//!
//! Sized for a town: up to 20,000 connections, 256 KiB messages, and a
//! per-filter log capped at two small segments so retained rotations do not
//! grow memory without bound. rumqttd keeps one log per subscription
//! filter, and a subscriber that falls further behind than the log holds
//! loses the overwritten messages; the server's two wildcard filters
//! (every screen's `plays` and `state`) therefore get logs large enough for
//! a whole fleet reporting at once (see [`PLAYS_LOG`], [`STATE_LOG`]): with
//! the small default, 200 screens sending one play batch each overflowed it
//! and the lost batches came back only with the agents' 30 s resend.
//! Beyond one town, or for per-topic ACLs, use an
//! external broker (Mosquitto; see `mosquitto.rs`): rumqttd authenticates
//! clients but has no per-topic ACL, so here the signatures alone keep one
//! screen from acting as another.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ledcast_protocol::v1::{Topic, TopicKind};
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, SegmentConfig, ServerSettings};

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
    #[error("the embedded MQTT broker did not start listening on {addr} within 5 s")]
    NotListening { addr: SocketAddr },
}

/// Checks a broker login: `(client_id, username, password) -> allowed`.
pub type BrokerAuth = Arc<dyn Fn(String, String, String) -> BoxFuture<'static, bool> + Send + Sync>;

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

/// Log of the `plays` wildcard filter: up to 4 × 32 MiB, one signed batch
/// (≈ 20–45 KiB) in flight from each of several thousand screens at once.
/// Memory is taken as messages arrive, up to this ceiling.
pub const PLAYS_LOG: (usize, usize) = (32 * 1024 * 1024, 4);

/// Log of the `state` wildcard filter: up to 2 × 8 MiB, a state report
/// (≈ 0.6 KiB) from 20,000 screens at once, e.g. after a fan-out.
pub const STATE_LOG: (usize, usize) = (8 * 1024 * 1024, 2);

/// Starts rumqttd on `listen` (`host:port`; port 0 picks a free port).
/// With `auth`, every client must log in; without, anyone may connect.
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
    // rumqttd binds inside its own thread and only logs a failure, so bind
    // here first: a taken port becomes a clear error, and `:0` a real port.
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

    let mut connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PAYLOAD_BYTES,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    if let Some(auth) = auth {
        connections.set_auth_handler(move |client_id, user, pass| auth(client_id, user, pass));
    }
    let server = ServerSettings {
        name: "ledcast-embedded".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 20_000,
            max_outgoing_packet_count: 200,
            max_segment_size: 512 * 1024,
            max_segment_count: 2,
            custom_segment: Some(
                [(TopicKind::Plays, PLAYS_LOG), (TopicKind::State, STATE_LOG)]
                    .into_iter()
                    .map(|(kind, (max_segment_size, max_segment_count))| {
                        (
                            Topic::filter_all(kind),
                            SegmentConfig {
                                max_segment_size,
                                max_segment_count,
                            },
                        )
                    })
                    .collect(),
            ),
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some([("ledcast".to_owned(), server)].into_iter().collect()),
        ..Config::default()
    };
    std::thread::Builder::new()
        .name("mqtt-broker".to_owned())
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(error) = broker.start() {
                tracing::error!(%error, "embedded MQTT broker stopped");
            }
        })
        .map_err(|source| BrokerError::Bind { addr, source })?;

    // Wait until the broker listens. Probing with a TCP connect would make
    // rumqttd log an error for a connection without CONNECT, so read the
    // kernel's socket table instead where there is one.
    for _ in 0..100 {
        match is_listening(addr) {
            Some(true) => {
                tracing::info!(%addr, "embedded MQTT broker listening");
                return Ok(EmbeddedBroker { addr });
            }
            Some(false) => std::thread::sleep(Duration::from_millis(50)),
            None => {
                // No /proc: fall back to a connect probe.
                if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                    return Ok(EmbeddedBroker { addr });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Err(BrokerError::NotListening { addr })
}

/// Whether a socket listens on `addr`'s port, from `/proc/net/tcp{,6}`;
/// `None` where those files do not exist.
fn is_listening(addr: SocketAddr) -> Option<bool> {
    let port = format!(":{:04X}", addr.port());
    let mut any_table = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        any_table = true;
        // Columns: sl local_address rem_address st …; st 0A = LISTEN.
        let listening = text.lines().skip(1).any(|line| {
            let mut columns = line.split_whitespace().skip(1);
            let local = columns.next().unwrap_or("");
            let state = columns.nth(1).unwrap_or("");
            local.ends_with(&port) && state == "0A"
        });
        if listening {
            return Some(true);
        }
    }
    any_table.then_some(false)
}

#[cfg(test)]
mod tests {
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
}
