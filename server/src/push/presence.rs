//! Pure decisions about a screen's delivery state: given what the server wants
//! a screen to run (desired) and what the screen last said (reported), what
//! should happen next. No I/O, no clock: `now` is a parameter.

use ledcast_protocol::v1::Timestamp;

/// What the server last heard from a screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reported {
    /// Rotation version the screen reports playing, if any.
    pub version: Option<u64>,
    /// Whether its retained state says online.
    pub online: bool,
    /// When the online/offline status last changed (server clock).
    pub status_since: Timestamp,
}

/// Tunables for [`next_step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresencePolicy {
    /// How long a screen may lag behind the desired version before it is re-sent.
    pub resend_after_ms: i64,
    /// How long a screen may be offline before an alert is raised.
    pub offline_alert_after_ms: i64,
}

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The screen is where it should be, or nothing can be done now.
    Nothing,
    /// Online but behind: publish the desired rotation again.
    Resend { desired: u64 },
    /// Offline for longer than the policy allows.
    OfflineAlert { offline_for_ms: i64 },
}

/// Decides what to do about one screen.
///
/// `last_sent` is when the desired version was last published to it.
pub fn next_step(
    desired: Option<u64>,
    reported: Option<&Reported>,
    last_sent: Option<Timestamp>,
    now: Timestamp,
    policy: &PresencePolicy,
) -> Step {
    let Some(reported) = reported else {
        return Step::Nothing;
    };
    if !reported.online {
        let offline_for_ms = now.millis_since(reported.status_since);
        if offline_for_ms >= policy.offline_alert_after_ms {
            return Step::OfflineAlert { offline_for_ms };
        }
        return Step::Nothing;
    }
    let Some(desired) = desired else {
        return Step::Nothing;
    };
    if reported.version.is_some_and(|v| v >= desired) {
        return Step::Nothing;
    }
    let waited = last_sent.map_or(i64::MAX, |sent| now.millis_since(sent));
    if waited >= policy.resend_after_ms {
        Step::Resend { desired }
    } else {
        Step::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PresencePolicy = PresencePolicy {
        resend_after_ms: 30_000,
        offline_alert_after_ms: 600_000,
    };

    fn online(version: Option<u64>) -> Reported {
        Reported {
            version,
            online: true,
            status_since: Timestamp(0),
        }
    }

    #[test]
    fn behind_screens_are_resent_but_not_hammered() {
        let now = Timestamp(1_000_000);
        let r = online(Some(3));
        assert_eq!(
            next_step(Some(5), Some(&r), None, now, &POLICY),
            Step::Resend { desired: 5 }
        );
        assert_eq!(
            next_step(Some(5), Some(&r), Some(Timestamp(990_000)), now, &POLICY),
            Step::Nothing
        );
        assert_eq!(
            next_step(Some(5), Some(&r), Some(Timestamp(960_000)), now, &POLICY),
            Step::Resend { desired: 5 }
        );
        assert_eq!(
            next_step(Some(5), Some(&online(Some(5))), None, now, &POLICY),
            Step::Nothing
        );
        assert_eq!(
            next_step(Some(5), Some(&online(None)), None, now, &POLICY),
            Step::Resend { desired: 5 }
        );
    }

    #[test]
    fn long_offline_screens_raise_an_alert() {
        let r = Reported {
            version: Some(1),
            online: false,
            status_since: Timestamp(0),
        };
        assert_eq!(
            next_step(Some(5), Some(&r), None, Timestamp(599_999), &POLICY),
            Step::Nothing
        );
        assert_eq!(
            next_step(Some(5), Some(&r), None, Timestamp(600_000), &POLICY),
            Step::OfflineAlert {
                offline_for_ms: 600_000
            }
        );
        assert_eq!(
            next_step(Some(5), None, None, Timestamp(0), &POLICY),
            Step::Nothing
        );
    }
}
