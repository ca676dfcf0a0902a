//! Capped, jittered exponential backoff as a pure function: the caller
//! supplies the random sample, so the delay is reproducible in tests.
//!
//! It decides a delay only; sleeping and counting attempts is the caller's job.

use std::time::Duration;

/// The shape of a backoff curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Delay before the first retry (before jitter).
    pub initial: Duration,
    /// The delay never exceeds this.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

/// The delay before retry number `attempt` (0-based): `initial * 2^attempt`
/// capped at `max`, then "equal jitter": half fixed, half scaled by
/// `random_sample` in `[0, 1]` (values outside are clamped). The result is
/// always within `[ceiling / 2, ceiling]`, where `ceiling` is the capped delay.
pub fn backoff(policy: BackoffPolicy, attempt: u32, random_sample: f64) -> Duration {
    let initial_ms = policy.initial.as_millis().max(1) as f64;
    let max_ms = policy.max.as_millis().max(1) as f64;
    let exponent = attempt.min(62) as i32;
    let ceiling_ms = (initial_ms * 2f64.powi(exponent)).min(max_ms);
    let sample = if random_sample.is_nan() {
        0.5
    } else {
        random_sample.clamp(0.0, 1.0)
    };
    let delay_ms = ceiling_ms / 2.0 + ceiling_ms / 2.0 * sample;
    Duration::from_millis(delay_ms.round() as u64)
}

/// A random sample in `[0, 1)` from the operating system (for callers).
pub fn random_sample() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delay_is_capped_and_at_least_half_the_ceiling(
            initial_ms in 1u64..10_000,
            max_ms in 1u64..600_000,
            attempt in 0u32..1000,
            sample in proptest::num::f64::ANY,
        ) {
            let policy = BackoffPolicy {
                initial: Duration::from_millis(initial_ms),
                max: Duration::from_millis(max_ms),
            };
            let d = backoff(policy, attempt, sample).as_millis() as u64;
            let ceiling = (initial_ms as f64 * 2f64.powi(attempt.min(62) as i32)).min(max_ms as f64);
            prop_assert!(d as f64 <= ceiling + 1.0);
            prop_assert!(d as f64 >= ceiling / 2.0 - 1.0);
            prop_assert!(d <= max_ms);
        }

        #[test]
        fn the_ceiling_never_shrinks_as_attempts_grow(attempt in 0u32..100, sample in 0.0f64..=1.0) {
            let policy = BackoffPolicy::default();
            let lower = backoff(policy, attempt, 0.0);
            let next_upper = backoff(policy, attempt + 1, 1.0);
            prop_assert!(next_upper >= lower);
            prop_assert!(backoff(policy, attempt, sample) <= policy.max);
        }
    }

    #[test]
    fn by_hand() {
        let p = BackoffPolicy::default();
        assert_eq!(backoff(p, 0, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(p, 0, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(p, 3, 1.0), Duration::from_millis(4000));
        assert_eq!(backoff(p, 40, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(p, 40, 0.0), Duration::from_secs(30));
    }
}
