//! A member's side of the network: a thread that reads its socket and
//! stamps each datagram with when it arrived, so the member's str0m sees
//! true arrival times however late the test gets round to it (its
//! transport-wide feedback reports them to the SFU's bandwidth estimate).
//! With a throttle it is a bottleneck link, as a router's queue is: at
//! most so many kbit/s through, and what would wait longer than
//! [`MAX_QUEUE`] is dropped.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a datagram waits in a throttled link's queue.
pub const MAX_QUEUE: Duration = Duration::from_millis(200);

/// One datagram, and when it is through the link.
pub struct Arrival {
    pub at: Instant,
    pub source: SocketAddr,
    pub data: Vec<u8>,
}

pub struct Inbox {
    arrivals: Receiver<Arrival>,
    stop: Arc<AtomicBool>,
    /// The link's rate in kbit/s; 0: as fast as loopback.
    throttle_kbps: Arc<AtomicU64>,
}

impl Inbox {
    pub fn watch(socket: &UdpSocket) -> Self {
        let socket = socket.try_clone().unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let (tx, arrivals) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let throttle_kbps = Arc::new(AtomicU64::new(0));
        let (stopped, throttle) = (stop.clone(), throttle_kbps.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 2000];
            // When the link is next free.
            let mut free_at = Instant::now();
            while !stopped.load(Relaxed) {
                let Ok((n, source)) = socket.recv_from(&mut buf) else { continue };
                let now = Instant::now();
                let at = match throttle.load(Relaxed) {
                    0 => now,
                    kbps => {
                        let start = free_at.max(now);
                        if start.saturating_duration_since(now) > MAX_QUEUE {
                            continue;
                        }
                        free_at = start + Duration::from_micros(n as u64 * 8 * 1000 / kbps);
                        free_at
                    }
                };
                if tx.send(Arrival { at, source, data: buf[..n].to_vec() }).is_err() {
                    return;
                }
            }
        });
        Self { arrivals, stop, throttle_kbps }
    }

    pub fn throttle(&self, kbps: u64) {
        self.throttle_kbps.store(kbps, Relaxed);
    }

    /// What came, waiting at most `wait` for something.
    pub fn take(&self, wait: Duration) -> Vec<Arrival> {
        let mut came: Vec<Arrival> = self.arrivals.try_iter().collect();
        if came.is_empty() {
            match self.arrivals.recv_timeout(wait) {
                Ok(arrival) => came.push(arrival),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
            }
        }
        came
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}
