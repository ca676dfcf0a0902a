//! Delivery over MQTT: the embedded broker, the signed publisher, presence and
//! play-record ingest (issue "Delivery over MQTT"; being built).
//!
//! This module owns everything that talks MQTT. HTTP routes for enrollment,
//! rotation fetch and screenshots live in the HTTP layer.

use serde::{Deserialize, Serialize};

/// `[mqtt]` section of the server configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// External broker URL (`mqtt://host:1883`, `mqtts://host:8883`); unset = embedded broker.
    pub broker_url: Option<String>,
    /// Where the embedded broker listens.
    pub embedded_listen: String,
    /// Broker user name of the server's own client (external broker).
    pub username: Option<String>,
    /// Broker password of the server's own client (external broker).
    pub password: Option<String>,
    /// Broker URL handed to agents at enrollment; defaults to the one the server uses.
    pub agent_broker_url: Option<String>,
    /// A screen offline longer than this raises an alert.
    pub offline_alert_seconds: u64,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            broker_url: None,
            embedded_listen: "127.0.0.1:1883".to_owned(),
            username: None,
            password: None,
            agent_broker_url: None,
            offline_alert_seconds: 600,
        }
    }
}
