//! Slows repeated authentication failures from one client address: after
//! `auth_failures_before_delay` consecutive failures, each further failed attempt is
//! answered only after a delay that doubles per failure (capped), so guessing passwords
//! from one address costs time while a user who mistypes once or twice notices nothing.
//! A successful authentication from the address resets it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses idle this long are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Longest delay of one answer.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Bound on remembered addresses (oldest-idle entries are pruned first).
const MAX_ADDRESSES: usize = 10_000;

pub struct AuthThrottle {
    /// Failures allowed without delay (0: never delay).
    free_failures: u32,
    /// Delay after the first failure beyond the free ones.
    base_delay: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AuthThrottle {
    pub fn new(free_failures: u32, base_delay: Duration) -> AuthThrottle {
        AuthThrottle { free_failures, base_delay, failures: Mutex::new(HashMap::new()) }
    }

    /// The delay owed by the `count`-th consecutive failure.
    pub fn delay_for(&self, count: u32) -> Duration {
        if self.free_failures == 0 || self.base_delay.is_zero() || count <= self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (count - self.free_failures - 1).min(16);
        self.base_delay.saturating_mul(1 << doublings).min(MAX_DELAY)
    }

    /// Records a failure from `ip` and waits the delay it owes.
    pub async fn record_failure(&self, ip: IpAddr) {
        let count = {
            let Ok(mut map) = self.failures.lock() else { return };
            let now = Instant::now();
            if map.len() >= MAX_ADDRESSES {
                map.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
            }
            let entry = map.entry(ip).or_insert((0, now));
            if now.duration_since(entry.1) >= FORGET_AFTER {
                entry.0 = 0;
            }
            entry.0 = entry.0.saturating_add(1);
            entry.1 = now;
            entry.0
        };
        let delay = self.delay_for(count);
        if !delay.is_zero() {
            tracing::warn!(client = %ip, failures = count, delay_ms = delay.as_millis() as u64, "repeated authentication failures: answer delayed");
            tokio::time::sleep(delay).await;
        }
    }

    pub fn record_success(&self, ip: IpAddr) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_and_double_up_to_the_cap() {
        let t = AuthThrottle::new(3, Duration::from_millis(100));
        assert_eq!(t.delay_for(1), Duration::ZERO);
        assert_eq!(t.delay_for(3), Duration::ZERO);
        assert_eq!(t.delay_for(4), Duration::from_millis(100));
        assert_eq!(t.delay_for(5), Duration::from_millis(200));
        assert_eq!(t.delay_for(40), MAX_DELAY);
        assert_eq!(AuthThrottle::new(0, Duration::from_millis(100)).delay_for(100), Duration::ZERO);
    }

    #[tokio::test]
    async fn success_resets_the_count() {
        let t = AuthThrottle::new(1, Duration::from_millis(1));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        t.record_failure(ip).await;
        t.record_failure(ip).await;
        assert_eq!(t.failures.lock().unwrap().get(&ip).map(|e| e.0), Some(2));
        t.record_success(ip);
        assert!(t.failures.lock().unwrap().get(&ip).is_none());
    }
}
