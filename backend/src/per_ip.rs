//! Open WebSockets per client address, so one machine (or a script) cannot
//! take every seat and every file descriptor.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug)]
pub struct PerIp {
    /// 0 means no limit.
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of `ip`, counted until dropped, however the
/// connection ends (or if its upgrade never completes).
#[derive(Debug)]
pub struct IpSlot {
    ip: IpAddr,
    owner: Arc<PerIp>,
}

impl PerIp {
    pub fn new(max: usize) -> Self {
        Self { max, open: Mutex::default() }
    }

    /// A slot for one more connection from `ip`, or `None` if it has `max`.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = ip.to_canonical();
        let mut open = self.lock();
        let count = open.entry(ip).or_default();
        if self.max != 0 && *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpSlot { ip, owner: self.clone() })
    }

    /// The counts stay right even if a holder panicked: each change is one
    /// statement, so there is no half-done state to fear.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn open(&self, ip: IpAddr) -> usize {
        self.lock().get(&ip).copied().unwrap_or(0)
    }
}

impl IpSlot {
    /// The address counted (canonical: IPv4 as IPv4).
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.owner.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            // Forget addresses with nothing open, so the map stays small.
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The address a per-address budget is kept for (the API's, wrong room
/// passwords): an IPv4 address as it is (arriving as ::ffff:a.b.c.d on a
/// dual-stack socket), an IPv6 host by its /64, which one machine (or one
/// customer's network) has whole to pick addresses from.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn each_address_gets_max_and_a_closed_one_frees_its_slot() {
        let per_ip = Arc::new(PerIp::new(2));
        let first = per_ip.acquire(A).unwrap();
        let _second = per_ip.acquire(A).unwrap();
        assert!(per_ip.acquire(A).is_none());
        assert!(per_ip.acquire(B).is_some(), "others are not affected");
        drop(first);
        assert!(per_ip.acquire(A).is_some());
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        let per_ip = Arc::new(PerIp::new(1));
        let _slot = per_ip.acquire(A).unwrap();
        let IpAddr::V4(v4) = A else { unreachable!() };
        assert!(per_ip.acquire(IpAddr::V6(v4.to_ipv6_mapped())).is_none());
    }

    #[test]
    fn zero_means_no_limit_and_nothing_lingers() {
        let per_ip = Arc::new(PerIp::new(0));
        let slots: Vec<_> = (0..1000).map(|_| per_ip.acquire(A).unwrap()).collect();
        assert_eq!(per_ip.open(A), 1000);
        drop(slots);
        assert_eq!(per_ip.open(A), 0);
        assert!(per_ip.lock().is_empty());
    }
}
