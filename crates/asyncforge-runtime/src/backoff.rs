//! Reconnect and retry delays: exponential backoff with jitter, bounded.
//!
//! Every transport (WebSocket and SSE clients, Kafka and MQTT reconnects, webhook delivery)
//! uses this one policy, so "how long until the next attempt" means the same everywhere.

use std::time::Duration;

/// An exponential backoff policy with "full jitter" (a random delay between zero and the
/// exponential bound), capped at `max`, optionally giving up after `max_attempts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Bound of the first delay.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Give up after this many attempts (`None`: never).
    pub max_attempts: Option<u32>,
    /// Whether to randomize delays (turn off only in tests that need exact delays).
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(30),
            factor: 2.0,
            max_attempts: None,
            jitter: true,
        }
    }
}

impl Backoff {
    /// The exponential bound for attempt `n` (0-based), before jitter.
    pub fn bound(&self, attempt: u32) -> Duration {
        let exp = self.factor.max(1.0).powi(attempt.min(64) as i32);
        let secs = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// Iterates over the delays before each retry.
    pub fn delays(&self) -> Delays {
        Delays {
            policy: self.clone(),
            attempt: 0,
            rng: seed(),
        }
    }

    /// Like [`Backoff::delays`], with a fixed random seed (reproducible tests).
    pub fn delays_seeded(&self, seed: u64) -> Delays {
        Delays {
            policy: self.clone(),
            attempt: 0,
            rng: seed.max(1),
        }
    }
}

/// The delays of one sequence of retries.
#[derive(Debug, Clone)]
pub struct Delays {
    policy: Backoff,
    attempt: u32,
    rng: u64,
}

impl Delays {
    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_random(&mut self) -> f64 {
        // xorshift64*: enough to spread reconnects; not for cryptography.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.policy.max_attempts.is_some_and(|m| self.attempt >= m) {
            return None;
        }
        let bound = self.policy.bound(self.attempt);
        self.attempt += 1;
        if !self.policy.jitter {
            return Some(bound);
        }
        let r = self.next_random();
        Some(Duration::from_secs_f64(bound.as_secs_f64() * r))
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9);
    // Mix in the address of a stack value so that processes started together differ.
    let local = 0u8;
    (t ^ (&local as *const u8 as u64).rotate_left(17)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_grow_exponentially_and_are_capped() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            factor: 2.0,
            max_attempts: Some(6),
            jitter: false,
        };
        let d: Vec<u128> = b.delays().map(|d| d.as_millis()).collect();
        assert_eq!(d, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jittered_delays_stay_within_bounds_and_vary() {
        let b = Backoff::default();
        let delays: Vec<Duration> = b.delays_seeded(42).take(20).collect();
        for (i, d) in delays.iter().enumerate() {
            assert!(*d <= b.bound(i as u32), "attempt {i}: {d:?}");
        }
        let mut distinct = delays.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 15, "jitter spreads delays");
        // Reproducible with a seed.
        assert_eq!(delays, b.delays_seeded(42).take(20).collect::<Vec<_>>());
    }

    #[test]
    fn gives_up_and_resets() {
        let b = Backoff {
            max_attempts: Some(2),
            ..Backoff::default()
        };
        let mut d = b.delays_seeded(7);
        assert!(d.next().is_some());
        assert!(d.next().is_some());
        assert!(d.next().is_none());
        d.reset();
        assert_eq!(d.attempts(), 0);
        assert!(d.next().is_some());
    }
}
