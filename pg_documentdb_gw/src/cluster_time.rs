//! The cluster time of the single-node replica set: MongoDB `Timestamp(seconds, increment)`
//! values that only move forward, handed out as `operationTime` and `$clusterTime` and as the
//! time of each write. Wall-clock seconds with a per-second counter; backed by PostgreSQL so
//! it never goes backwards across gateway restarts: a background task records the current
//! second every few seconds, and a starting gateway begins past the recorded second plus
//! that period (every time handed out before a crash was at most that far ahead).

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the current second is recorded in PostgreSQL.
pub const PERSIST_PERIOD: Duration = Duration::from_secs(10);

pub struct ClusterClock {
    /// The last time handed out: (seconds, increment).
    last: Mutex<(u32, u32)>,
}

fn wall_seconds() -> u32 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

impl Default for ClusterClock {
    fn default() -> Self {
        ClusterClock { last: Mutex::new((wall_seconds(), 0)) }
    }
}

impl ClusterClock {
    /// Moves the clock past `recorded_seconds` (read from PostgreSQL at startup) plus the
    /// persistence period.
    pub fn start_after(&self, recorded_seconds: u32) {
        let floor = recorded_seconds.saturating_add(PERSIST_PERIOD.as_secs() as u32 + 1);
        if let Ok(mut last) = self.last.lock() {
            if last.0 < floor {
                *last = (floor, 0);
            }
        }
    }

    /// The current cluster time, without advancing it (reads).
    pub fn now(&self) -> bson::Timestamp {
        let (time, increment) = self.last.lock().map(|l| *l).unwrap_or((wall_seconds(), 0));
        let wall = wall_seconds();
        if wall > time {
            return bson::Timestamp { time: wall, increment: 0 };
        }
        bson::Timestamp { time, increment }
    }

    /// A new, strictly later cluster time (a write's).
    pub fn tick(&self) -> bson::Timestamp {
        let wall = wall_seconds();
        let Ok(mut last) = self.last.lock() else { return bson::Timestamp { time: wall, increment: 1 } };
        *last = if wall > last.0 { (wall, 1) } else { (last.0, last.1.saturating_add(1)) };
        bson::Timestamp { time: last.0, increment: last.1 }
    }

    /// The seconds to record (the latest handed out or the wall clock, whichever is later).
    pub fn seconds(&self) -> u32 {
        self.now().time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_only_move_forward_and_survive_a_recorded_future() {
        let clock = ClusterClock::default();
        let a = clock.tick();
        let b = clock.tick();
        assert!((b.time, b.increment) > (a.time, a.increment));
        assert!((clock.now().time, clock.now().increment) >= (b.time, b.increment));
        clock.start_after(b.time + 1000);
        let c = clock.tick();
        assert!(c.time > b.time + 1000, "{c:?}");
    }
}
