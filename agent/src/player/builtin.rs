//! The built-in fallback compiled into the binary: standard anti-fraud
//! warnings that play when no signed rotation (and no rotation fallback)
//! can cover the current instant, so a screen is never blank.
//!
//! This module only names the messages and gives each a stable content
//! address; turning text into pixels for a given canvas is the display's job
//! (`display::font`). It does no I/O.

use ledcast_protocol::v1::{Sha256, Timestamp};
use sha2::Digest;

/// The built-in warnings, in play order: standard Chinese warnings, each
/// followed by an English one. The display draws ASCII text with its 5×7
/// font and any other text with the GNU Unifont glyphs compiled in for
/// exactly these messages (`display/builtin_glyphs.hex`; a test keeps it in
/// step with this list).
pub const MESSAGES: [&str; 8] = [
    "不要轻信陌生来电，公检法不会电话办案",
    "BEWARE OF FRAUD: POLICE NEVER ASK YOU TO TRANSFER MONEY",
    "凡是让你转账到“安全账户”的都是诈骗",
    "NEVER SHARE SMS CODES OR PASSWORDS WITH ANYONE",
    "验证码、密码不告诉任何人，谨防诈骗",
    "NO 'SAFE ACCOUNT' EXISTS: HANG UP AND CALL 110",
    "高收益无风险就是诈骗，接到96110请接听",
    "HIGH RETURNS, NO RISK = FRAUD. ASK BANK STAFF FIRST",
];

/// The material id a built-in message reports in play records.
pub fn material_id(index: usize) -> String {
    format!("builtin:{index}")
}

/// The content address of a built-in message (SHA-256 of its text), used as
/// the `media` of play records so reports can tell which warning played.
pub fn media(index: usize) -> Sha256 {
    let text = MESSAGES[index % MESSAGES.len()];
    Sha256(sha2::Sha256::digest(text.as_bytes()).into())
}

/// Which built-in message plays at `t`, phased from the Unix epoch so that
/// screens in fallback stay in step: `(index, slot_started_at, slot_ends_at)`.
pub fn position_at(t: Timestamp, slot_ms: u64) -> (usize, Timestamp, Timestamp) {
    let slot_ms = slot_ms.max(1) as i64;
    let slot_number = t.0.div_euclid(slot_ms);
    let started = Timestamp(slot_number.saturating_mul(slot_ms));
    let index = slot_number.rem_euclid(MESSAGES.len() as i64) as usize;
    (index, started, started.plus_ms(slot_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_cycle_through_every_message_in_step() {
        let (i0, s0, e0) = position_at(Timestamp(25_000), 10_000);
        assert_eq!((i0, s0, e0), (2, Timestamp(20_000), Timestamp(30_000)));
        let (i1, _, _) = position_at(Timestamp(30_000), 10_000);
        assert_eq!(i1, 3);
        let (i2, _, _) = position_at(Timestamp(80_000), 10_000);
        assert_eq!(i2, 0);
        let (i3, s3, _) = position_at(Timestamp(-1), 10_000);
        assert_eq!((i3, s3), (MESSAGES.len() - 1, Timestamp(-10_000)));
    }

    #[test]
    fn every_message_has_a_distinct_address() {
        let all: std::collections::HashSet<Sha256> = (0..MESSAGES.len()).map(media).collect();
        assert_eq!(all.len(), MESSAGES.len());
    }
}
