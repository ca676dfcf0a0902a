//! Wire-level checks a user relies on: a signed message opens only with the
//! right key, unmodified, for the right screen, in the right order.

use ed25519_dalek::SigningKey;
use ledcast_protocol::v1::{
    accept_rotation, open, open_with_limits, seal, Ack, AgentState, Block, BootId, CacheStatus,
    Command, CommandAction, Envelope, MediaRef, OpenLimits, PlayBatch, PlayOutcome, PlayRecord,
    Presence, Rejected, Rotation, ScreenId, Sha256, Slot, SlotKind, Timestamp, TrustedKey,
};
use proptest::prelude::*;

fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn trusted() -> TrustedKey {
    TrustedKey::new(server_key().verifying_key())
}

fn screen(id: &str) -> ScreenId {
    ScreenId::new(id).unwrap()
}

fn rotation(screen_id: &str, version: u64) -> Rotation {
    let media = Sha256([3; 32]);
    Rotation {
        screen_id: screen(screen_id),
        version,
        issued_at: Timestamp(1_000_000),
        expires_at: Timestamp(1_000_000 + 72 * 3_600_000),
        timezone: "Asia/Shanghai".into(),
        blocks: vec![Block {
            from: Timestamp(1_000_000),
            until: Timestamp(1_000_000 + 48 * 3_600_000),
            priority: 0,
            slots: vec![Slot {
                media,
                duration_ms: 8000,
                kind: SlotKind::Scroll { px_per_second: 40 },
                material_id: "warn-刷单".into(),
                is_warning: true,
            }],
        }],
        fallback: vec![],
        media: vec![MediaRef {
            sha256: media,
            size_bytes: 1234,
            mime: "image/png".into(),
            width: 352,
            height: 80,
        }],
        brightness: vec![],
    }
}

#[test]
fn every_message_type_round_trips_through_a_signed_envelope() {
    let key = server_key();
    let r = rotation("b1-door", 4);
    assert_eq!(open::<Rotation>(&seal(&r, &key), &trusted()).unwrap(), r);

    let boot = BootId::from_random([9; 16]);
    let state = AgentState {
        screen_id: screen("b1-door"),
        boot_id: boot.clone(),
        status: Presence::Online,
        reported_at: Timestamp(5),
        rotation_version: Some(4),
        pending_version: None,
        now_playing: None,
        stale: false,
        cache: CacheStatus {
            items: 1,
            bytes: 1234,
            missing: 0,
        },
        journal_pending: 0,
        journal_alarm: false,
        last_error: None,
        warnings: vec![],
        agent_version: "0.1.0".into(),
        bridge: None,
        connected_at: None,
        clock_suspect: false,
        display_missing: false,
    };
    assert_eq!(
        open::<AgentState>(&seal(&state, &key), &trusted()).unwrap(),
        state
    );

    let batch = PlayBatch {
        screen_id: screen("b1-door"),
        boot_id: boot.clone(),
        first_seq: 1,
        last_seq: 1,
        records: vec![PlayRecord {
            seq: 1,
            media: Sha256([3; 32]),
            material_id: "warn".into(),
            rotation_version: Some(4),
            is_warning: true,
            started_at: Timestamp(10),
            ended_at: None,
            outcome: PlayOutcome::Interrupted,
            clock_suspect: false,
            bridge: None,
        }],
    };
    assert_eq!(
        open::<PlayBatch>(&seal(&batch, &key), &trusted()).unwrap(),
        batch
    );

    let ack = Ack {
        screen_id: screen("b1-door"),
        boot_id: boot,
        upto_seq: 1,
        refused: vec![],
    };
    assert_eq!(open::<Ack>(&seal(&ack, &key), &trusted()).unwrap(), ack);

    let command = Command {
        screen_id: screen("b1-door"),
        command_id: "c1".into(),
        issued_at: Timestamp(1),
        expires_at: Timestamp(2),
        action: CommandAction::Identify { seconds: 30 },
    };
    assert_eq!(
        open::<Command>(&seal(&command, &key), &trusted()).unwrap(),
        command
    );
}

#[test]
fn a_signed_ack_cannot_be_opened_as_another_message_type() {
    // Same key, same bytes: the per-type signing context keeps domains apart.
    let ack = Ack {
        screen_id: screen("s"),
        boot_id: BootId::from_random([1; 16]),
        upto_seq: 3,
        refused: vec![],
    };
    let sealed = seal(&ack, &server_key());
    assert_eq!(
        open::<PlayBatch>(&sealed, &trusted()),
        Err(Rejected::BadSignature)
    );
}

#[test]
fn oversize_is_refused_before_parsing() {
    let garbage = vec![b'{'; 300 * 1024];
    let err = open::<Rotation>(&garbage, &trusted()).unwrap_err();
    assert_eq!(
        err,
        Rejected::Oversize {
            size: 300 * 1024,
            max: 256 * 1024
        }
    );
    let small = seal(&rotation("s", 1), &server_key());
    let err = open_with_limits::<Rotation>(&small, &trusted(), OpenLimits { max_bytes: 100 })
        .unwrap_err();
    assert!(matches!(err, Rejected::Oversize { max: 100, .. }), "{err}");
}

#[test]
fn another_key_is_unknown_even_when_it_claims_the_trusted_id() {
    let attacker = SigningKey::from_bytes(&[8; 32]);
    let sealed = seal(&rotation("s", 1), &attacker);
    assert!(matches!(
        open::<Rotation>(&sealed, &trusted()),
        Err(Rejected::UnknownKey { .. })
    ));
    // Relabel the envelope with the trusted key id: the signature still fails.
    let mut envelope: Envelope = serde_json::from_slice(&sealed).unwrap();
    envelope.key_id = trusted().key_id;
    let relabelled = serde_json::to_vec(&envelope).unwrap();
    assert_eq!(
        open::<Rotation>(&relabelled, &trusted()),
        Err(Rejected::BadSignature)
    );
}

#[test]
fn accept_rotation_rejects_each_case_with_its_own_variant() {
    let me = screen("b1-door");
    let now = Timestamp(1_000_000 + 60_000);
    let r = rotation("b1-door", 5);
    assert_eq!(accept_rotation(&r, &me, Some(4), now), Ok(()));
    assert_eq!(accept_rotation(&r, &me, None, now), Ok(()));
    assert_eq!(
        accept_rotation(&r, &me, Some(5), now),
        Err(Rejected::Replay { version: 5 })
    );
    assert_eq!(
        accept_rotation(&r, &me, Some(9), now),
        Err(Rejected::Rollback {
            version: 5,
            highest_seen: 9
        })
    );
    let other = rotation("b2-door", 6);
    assert!(matches!(
        accept_rotation(&other, &me, Some(4), now),
        Err(Rejected::WrongScreen { .. })
    ));
    let late = Timestamp(r.expires_at.0 + 1);
    assert!(matches!(
        accept_rotation(&r, &me, Some(4), late),
        Err(Rejected::Expired { .. })
    ));
    let early = Timestamp(r.issued_at.0 - 3_600_000);
    assert!(matches!(
        accept_rotation(&r, &me, Some(4), early),
        Err(Rejected::IssuedInFuture { .. })
    ));

    let mut unlisted = r.clone();
    unlisted.media.clear();
    assert_eq!(
        accept_rotation(&unlisted, &me, None, now),
        Err(Rejected::UnlistedMedia {
            media: Sha256([3; 32])
        })
    );

    let mut overlap = r.clone();
    let mut second = overlap.blocks[0].clone();
    second.from = Timestamp(second.from.0 + 1000);
    overlap.blocks.push(second);
    assert_eq!(
        accept_rotation(&overlap, &me, None, now),
        Err(Rejected::AmbiguousOverlap {
            first: 0,
            second: 1,
            priority: 0
        })
    );
    overlap.blocks[1].priority = 50; // an alert over the base block is fine
    assert_eq!(accept_rotation(&overlap, &me, None, now), Ok(()));

    let mut empty = r.clone();
    empty.blocks[0].until = empty.blocks[0].from;
    assert_eq!(
        accept_rotation(&empty, &me, None, now),
        Err(Rejected::EmptyBlock { block: 0 })
    );
    let mut zero = r.clone();
    zero.blocks[0].slots[0].duration_ms = 0;
    assert_eq!(
        accept_rotation(&zero, &me, None, now),
        Err(Rejected::ZeroDuration {
            block: Some(0),
            slot: 0
        })
    );
}

#[test]
fn rejections_read_like_operator_messages() {
    let text = Rejected::Rollback {
        version: 3,
        highest_seen: 7,
    }
    .to_string();
    assert_eq!(
        text,
        "rotation version 3 is older than version 7 already seen (rollback)"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, .. ProptestConfig::default() })]

    /// Any single bit flip, truncation, or re-keying of a signed envelope
    /// must stop it from opening.
    #[test]
    fn tampered_envelopes_never_open(
        version in 1u64..1_000_000,
        mutation in 0u8..3,
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
        other_key in any::<[u8; 32]>(),
    ) {
        let r = rotation("b1-door", version);
        let sealed = seal(&r, &server_key());
        let tampered = match mutation {
            0 => {
                let mut bytes = sealed.clone();
                let i = position.index(bytes.len());
                bytes[i] ^= 1 << bit;
                bytes
            }
            1 => sealed[..position.index(sealed.len())].to_vec(),
            _ => {
                prop_assume!(other_key != [7; 32]);
                seal(&r, &SigningKey::from_bytes(&other_key))
            }
        };
        // A flip inside JSON whitespace-free text always changes meaning or
        // validity; opening must fail.
        let opened = open::<Rotation>(&tampered, &trusted());
        prop_assert!(opened.is_err(), "tampered envelope opened: {:?}", opened);
    }
}
