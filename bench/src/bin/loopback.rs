//! What this machine allows under any relay's latency: round trips of one
//! 200-byte message over loopback TCP between two threads with blocking
//! reads, one message every `1e6 / RATE` µs, so each side sleeps in the
//! kernel between messages as a lightly loaded server does. A round trip is
//! two wake-ups and two hops, as a relayed message is (sender to server,
//! server to addressee), with no WebSocket, no JSON and no runtime.
//!
//! `target/release/loopback [RATE]` (default 2,000 a second, the relay
//! benchmark's light load) prints p50 / p99 / p99.9 of 19,000 round trips.

#[path = "../percentile.rs"]
mod percentile;

use percentile::nearest_rank;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const SIZE: usize = 200;
const WARM_UP: usize = 1_000;
const COUNTED: usize = 19_000;

fn main() -> std::io::Result<()> {
    let rate: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| std::io::Error::other(format!("RATE must be a whole number, not {arg:?}")))?,
        None => 2_000,
    };
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || -> std::io::Result<()> {
        let (mut echo, _) = listener.accept()?;
        echo.set_nodelay(true)?;
        let mut buf = [0u8; SIZE];
        loop {
            echo.read_exact(&mut buf)?;
            echo.write_all(&buf)?;
        }
    });
    let mut client = TcpStream::connect(addr)?;
    client.set_nodelay(true)?;
    let (out, mut back) = ([7u8; SIZE], [0u8; SIZE]);
    let gap = Duration::from_micros(1_000_000 / rate.max(1));
    let mut trips = Vec::with_capacity(COUNTED);
    for i in 0..WARM_UP + COUNTED {
        std::thread::sleep(gap);
        let start = Instant::now();
        client.write_all(&out)?;
        client.read_exact(&mut back)?;
        if i >= WARM_UP {
            trips.push(start.elapsed());
        }
    }
    trips.sort();
    let at = |p: f64| nearest_rank(&trips, p).unwrap_or_default().as_secs_f64() * 1e6;
    println!(
        "loopback TCP round trip, one {SIZE}-byte message every {} µs: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs ({COUNTED} round trips)",
        gap.as_micros(),
        at(0.5),
        at(0.99),
        at(0.999)
    );
    Ok(())
}
