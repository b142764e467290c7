//! Clocks for the client: the real one (tokio time, anchored to the wall clock), and a
//! fast-forward one for tests, whose waits advance virtual time instead of sleeping.

use postato_core::{Clock, Timestamp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Real time: a wall-clock reading taken once, advanced by tokio's monotonic clock, so
/// deadlines survive wall-clock jumps. With `fast_forward`, waits return at once and add
/// their length to a virtual offset instead (attempt timeouts stay real).
#[derive(Debug)]
pub(crate) struct ClientClock {
    anchor_wall: Timestamp,
    anchor: tokio::time::Instant,
    fast_forward: bool,
    skipped_ms: AtomicU64,
}

impl ClientClock {
    pub fn new(fast_forward: bool) -> Self {
        ClientClock {
            anchor_wall: Timestamp::from_system_time(SystemTime::now()),
            anchor: tokio::time::Instant::now(),
            fast_forward,
            skipped_ms: AtomicU64::new(0),
        }
    }
}

impl Clock for ClientClock {
    fn now(&self) -> Timestamp {
        let elapsed = self.anchor.elapsed() + Duration::from_millis(self.skipped_ms.load(Ordering::Relaxed));
        self.anchor_wall.saturating_add(elapsed)
    }

    async fn sleep_until(&self, until: Timestamp) {
        let wait = until.saturating_since(self.now());
        if self.fast_forward {
            self.skipped_ms.fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(wait).await;
        }
    }
}
