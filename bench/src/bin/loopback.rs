//! What this machine allows under any relay's latency, with no WebSocket, no
//! JSON and no runtime: 200-byte messages over loopback TCP between threads
//! with blocking reads, one every `1e6 / RATE` µs, so each thread sleeps in
//! the kernel between messages as a lightly loaded server does.
//!
//! - `target/release/loopback [RATE]` (default 2,000 a second, the relay
//!   benchmark's light load): round trips between two threads, two wake-ups
//!   and two hops.
//! - `target/release/loopback [RATE] relay`: one way from a sender through a
//!   third thread that only forwards to a receiver, the shape of a relayed
//!   message (sender, server, addressee), timed on one clock.
//! - `… relay spin`: the same with the forwarder and the receiver polling
//!   their sockets instead of sleeping, what a busy-polling server and client
//!   would get. `… relay spin-relay` polls in the forwarder only and
//!   `… relay spin-reader` in the receiver only: what each side's wake-up
//!   costs.
//!
//! Each prints p50 / p99 / p99.9 of 19,000 messages after 1,000 to warm up.

#[path = "../percentile.rs"]
mod percentile;

use percentile::nearest_rank;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SIZE: usize = 200;
const WARM_UP: usize = 1_000;
const COUNTED: usize = 19_000;

static START: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds on this process's one clock, to stamp into a message.
fn now() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A connected pair of loopback sockets, Nagle off on both.
fn pair(listener: &TcpListener) -> std::io::Result<(TcpStream, TcpStream)> {
    let near = TcpStream::connect(listener.local_addr()?)?;
    let (far, _) = listener.accept()?;
    near.set_nodelay(true)?;
    far.set_nodelay(true)?;
    Ok((near, far))
}

/// Reads one message, sleeping in the kernel or, with `spin`, polling.
fn read_message(socket: &mut TcpStream, buf: &mut [u8; SIZE], spin: bool) -> std::io::Result<()> {
    if !spin {
        return socket.read_exact(buf);
    }
    let mut got = 0;
    while got < SIZE {
        match socket.read(&mut buf[got..]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn round_trips(listener: &TcpListener, gap: Duration) -> std::io::Result<Vec<Duration>> {
    let (mut client, mut echo) = pair(listener)?;
    std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = [0u8; SIZE];
        loop {
            echo.read_exact(&mut buf)?;
            echo.write_all(&buf)?;
        }
    });
    let (out, mut back) = ([7u8; SIZE], [0u8; SIZE]);
    let mut trips = Vec::with_capacity(WARM_UP + COUNTED);
    for _ in 0..WARM_UP + COUNTED {
        std::thread::sleep(gap);
        let start = Instant::now();
        client.write_all(&out)?;
        client.read_exact(&mut back)?;
        trips.push(start.elapsed());
    }
    Ok(trips)
}

fn relayed(listener: &TcpListener, gap: Duration, spin: Spin) -> std::io::Result<Vec<Duration>> {
    let (mut sender, mut relay_in) = pair(listener)?;
    let (mut relay_out, mut receiver) = pair(listener)?;
    let relay_spins = matches!(spin, Spin::Relay | Spin::Both);
    let reader_spins = matches!(spin, Spin::Reader | Spin::Both);
    relay_in.set_nonblocking(relay_spins)?;
    receiver.set_nonblocking(reader_spins)?;
    std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = [0u8; SIZE];
        loop {
            read_message(&mut relay_in, &mut buf, relay_spins)?;
            relay_out.write_all(&buf)?;
        }
    });
    let timer = std::thread::spawn(move || -> std::io::Result<Vec<Duration>> {
        let mut buf = [0u8; SIZE];
        let mut one_way = Vec::with_capacity(WARM_UP + COUNTED);
        for _ in 0..WARM_UP + COUNTED {
            read_message(&mut receiver, &mut buf, reader_spins)?;
            let sent = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
            one_way.push(Duration::from_nanos(now() - sent));
        }
        Ok(one_way)
    });
    let mut out = [7u8; SIZE];
    for _ in 0..WARM_UP + COUNTED {
        std::thread::sleep(gap);
        out[..8].copy_from_slice(&now().to_le_bytes());
        sender.write_all(&out)?;
    }
    timer.join().map_err(|_| std::io::Error::other("the receiving thread panicked"))?
}

/// Which of the relayed message's two readers poll instead of sleeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spin {
    Neither,
    Relay,
    Reader,
    Both,
}

fn main() -> std::io::Result<()> {
    let (mut rate, mut relay, mut spin) = (2_000u64, false, Spin::Neither);
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "relay" => relay = true,
            "spin" => spin = Spin::Both,
            "spin-relay" => spin = Spin::Relay,
            "spin-reader" => spin = Spin::Reader,
            number => {
                rate = number.parse().map_err(|_| {
                    std::io::Error::other(format!(
                        "expected RATE (a whole number), `relay`, `spin`, `spin-relay` or `spin-reader`, not {arg:?}"
                    ))
                })?
            }
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let gap = Duration::from_micros(1_000_000 / rate.max(1));
    now();
    let (what, mut times) = if relay {
        let what = match spin {
            Spin::Neither => "one way through a relay thread",
            Spin::Relay => "one way through a polling relay thread to a sleeping reader",
            Spin::Reader => "one way through a sleeping relay thread to a polling reader",
            Spin::Both => "one way through a polling relay thread to a polling reader",
        };
        (what, relayed(&listener, gap, spin)?)
    } else {
        ("round trip", round_trips(&listener, gap)?)
    };
    let mut times = times.split_off(WARM_UP);
    times.sort();
    let at = |p: f64| nearest_rank(&times, p).unwrap_or_default().as_secs_f64() * 1e6;
    println!(
        "loopback TCP {what}, one {SIZE}-byte message every {} µs: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs ({COUNTED} messages)",
        gap.as_micros(),
        at(0.5),
        at(0.99),
        at(0.999)
    );
    Ok(())
}
