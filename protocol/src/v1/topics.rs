//! MQTT topic names (DESIGN.md §5). Built only from a validated [`ScreenId`],
//! so no id can inject `+`, `#` or `/`.

use super::ids::ScreenId;

/// Every ledcast v1 topic starts with this.
pub const TOPIC_PREFIX: &str = "ledcast/v1/screens";

/// The per-screen topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// server → agent, QoS 1, retained: signed `Rotation`.
    Rotation,
    /// server → agent, QoS 1: signed `Command`.
    Command,
    /// agent → server, QoS 1, retained, Last Will = offline: signed `AgentState`.
    State,
    /// agent → server, QoS 1: signed `PlayBatch`.
    Plays,
    /// server → agent, QoS 1: signed `Ack`.
    Ack,
}

impl TopicKind {
    /// All kinds, in table order.
    pub const ALL: [TopicKind; 5] = [
        TopicKind::Rotation,
        TopicKind::Command,
        TopicKind::State,
        TopicKind::Plays,
        TopicKind::Ack,
    ];

    /// The last topic level.
    pub fn suffix(self) -> &'static str {
        match self {
            TopicKind::Rotation => "rotation",
            TopicKind::Command => "command",
            TopicKind::State => "state",
            TopicKind::Plays => "plays",
            TopicKind::Ack => "ack",
        }
    }

    /// Whether messages on this topic are retained by the broker.
    pub fn retained(self) -> bool {
        matches!(self, TopicKind::Rotation | TopicKind::State)
    }

    /// Whether the agent publishes (true) or subscribes (false).
    pub fn from_agent(self) -> bool {
        matches!(self, TopicKind::State | TopicKind::Plays)
    }

    /// What a device may do on this topic of its own screen: the broker
    /// topic matrix, one table for the embedded broker's ACL and the
    /// Mosquitto ACL file. A device has no access to any other topic.
    pub fn device_access(self) -> DeviceAccess {
        match self {
            // A device reads its own retained state too: it republishes
            // `online` when a late Last Will of an earlier connection lands.
            TopicKind::State => DeviceAccess::ReadWrite,
            TopicKind::Plays => DeviceAccess::Write,
            TopicKind::Rotation | TopicKind::Command | TopicKind::Ack => DeviceAccess::Read,
        }
    }
}

/// A device's access to one of its own topics ([`TopicKind::device_access`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceAccess {
    /// Subscribe only.
    Read,
    /// Publish only.
    Write,
    /// Both.
    ReadWrite,
}

impl DeviceAccess {
    /// Whether a device may subscribe.
    pub fn read(self) -> bool {
        matches!(self, DeviceAccess::Read | DeviceAccess::ReadWrite)
    }

    /// Whether a device may publish.
    pub fn write(self) -> bool {
        matches!(self, DeviceAccess::Write | DeviceAccess::ReadWrite)
    }
}

/// The MQTT client id a screen's agent connects with. Brokers bind it to
/// the device's login: a device that presents another screen's client id
/// (to kick it off and fire its Last Will) is refused.
pub fn agent_client_id(screen_id: &ScreenId) -> String {
    format!("{AGENT_CLIENT_ID_PREFIX}{}", screen_id.as_str())
}

/// The screen whose agent client id this is; `None` for any other client id.
pub fn agent_client_screen(client_id: &str) -> Option<ScreenId> {
    ScreenId::new(client_id.strip_prefix(AGENT_CLIENT_ID_PREFIX)?).ok()
}

const AGENT_CLIENT_ID_PREFIX: &str = "ledcast-agent-";

/// A parsed per-screen topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Topic {
    /// Whose topic.
    pub screen_id: ScreenId,
    /// Which one.
    pub kind: TopicKind,
}

impl Topic {
    /// `ledcast/v1/screens/{id}/{kind}`.
    pub fn name(screen_id: &ScreenId, kind: TopicKind) -> String {
        format!("{TOPIC_PREFIX}/{}/{}", screen_id.as_str(), kind.suffix())
    }

    /// A subscription filter for one kind on every screen: `ledcast/v1/screens/+/{kind}`.
    pub fn filter_all(kind: TopicKind) -> String {
        format!("{TOPIC_PREFIX}/+/{}", kind.suffix())
    }

    /// Parses a topic name; `None` for anything that is not a ledcast v1 screen topic.
    pub fn parse(topic: &str) -> Option<Topic> {
        let rest = topic.strip_prefix(TOPIC_PREFIX)?.strip_prefix('/')?;
        let (id, suffix) = rest.split_once('/')?;
        let screen_id = ScreenId::new(id).ok()?;
        let kind = TopicKind::ALL.into_iter().find(|k| k.suffix() == suffix)?;
        Some(Topic { screen_id, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_match_the_design_table() {
        let id = ScreenId::new("b1-door").unwrap();
        assert_eq!(
            Topic::name(&id, TopicKind::Rotation),
            "ledcast/v1/screens/b1-door/rotation"
        );
        assert_eq!(
            Topic::name(&id, TopicKind::Plays),
            "ledcast/v1/screens/b1-door/plays"
        );
        assert_eq!(
            Topic::filter_all(TopicKind::State),
            "ledcast/v1/screens/+/state"
        );
        for kind in TopicKind::ALL {
            let parsed = Topic::parse(&Topic::name(&id, kind)).unwrap();
            assert_eq!(
                parsed,
                Topic {
                    screen_id: id.clone(),
                    kind
                }
            );
        }
        assert_eq!(Topic::parse("ledcast/v1/screens/a/b/state"), None);
        assert_eq!(Topic::parse("ledcast/v1/screens/+/state"), None);
        assert_eq!(Topic::parse("ledcast/v1/screens/a/other"), None);
    }

    #[test]
    fn agent_client_ids_round_trip() {
        let id = ScreenId::new("b1-door").unwrap();
        assert_eq!(agent_client_screen(&agent_client_id(&id)), Some(id));
        assert_eq!(agent_client_screen("ledcast-server-1a2b"), None);
        assert_eq!(agent_client_screen("ledcast-agent-"), None);
        assert_eq!(agent_client_screen("ledcast-agent-A/B"), None);
    }

    #[test]
    fn devices_read_what_the_server_sends_and_write_what_they_report() {
        for kind in TopicKind::ALL {
            let access = kind.device_access();
            assert_eq!(access.write(), kind.from_agent(), "{kind:?}");
            assert_eq!(
                access.read(),
                !kind.from_agent() || kind == TopicKind::State,
                "{kind:?}"
            );
        }
    }
}
