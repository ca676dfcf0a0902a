//! `cargo run --release -p ledcast-protocol --example sign_verify`
//!
//! What one signature costs on this machine: Ed25519 sign, `verify_strict`
//! (what `open` uses) and plain `verify` over a rotation-sized message, and
//! decoding a public key. The fleet bench's per-screen CPU budget (bench/README.md)
//! is read against these. Prints one line; medians of 7 runs of 2,000 each.

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

#[allow(clippy::disallowed_methods)] // a bench measures time
fn micros_per_op(count: u32, mut op: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let started = std::time::Instant::now();
            for _ in 0..count {
                op();
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(count)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let message = vec![b'x'; 1500];
    let signature = key.sign(&message);
    let n = 2000;
    let sign = micros_per_op(n, || {
        std::hint::black_box(key.sign(std::hint::black_box(&message)));
    });
    let strict = micros_per_op(n, || {
        assert!(public.verify_strict(&message, &signature).is_ok());
    });
    let plain = micros_per_op(n, || {
        assert!(public.verify(&message, &signature).is_ok());
    });
    let bytes = public.to_bytes();
    let decode = micros_per_op(n, || {
        std::hint::black_box(VerifyingKey::from_bytes(std::hint::black_box(&bytes)).is_ok());
    });
    println!(
        "ed25519 bytes={} sign_us={sign:.1} verify_strict_us={strict:.1} verify_us={plain:.1} key_decode_us={decode:.1}",
        message.len()
    );
}
