//! This machine's addresses on its local networks: where a phone on the same
//! Wi-Fi reaches the server, and what the self-signed certificate names.

use std::net::{IpAddr, Ipv4Addr};

/// The IPv4 addresses of interfaces that are up, likeliest Wi-Fi/Ethernet
/// first; empty if the system will not say.
pub fn ipv4_addresses() -> Vec<Ipv4Addr> {
    let interfaces = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces,
        Err(err) => {
            tracing::warn!(%err, "cannot list network interfaces");
            return Vec::new();
        }
    };
    let candidates = interfaces
        .iter()
        // Down interfaces (an idle docker0) and tunnels (VPNs) do not reach the Wi-Fi.
        .filter(|i| i.oper_status != if_addrs::IfOperStatus::Down && !i.is_p2p())
        .filter_map(|i| match i.ip() {
            IpAddr::V4(ip) => Some((i.name.as_str(), ip)),
            IpAddr::V6(_) => None,
        });
    lan_only(candidates)
}

/// Keeps addresses another device could reach, without duplicates: private
/// ranges before public ones, virtual bridges (containers, VMs) last.
fn lan_only<'a>(candidates: impl IntoIterator<Item = (&'a str, Ipv4Addr)>) -> Vec<Ipv4Addr> {
    let mut kept: Vec<(bool, bool, Ipv4Addr)> = Vec::new();
    for (name, ip) in candidates {
        if ip.is_loopback() || ip.is_link_local() || ip.is_unspecified() || ip.is_multicast() {
            continue;
        }
        if kept.iter().all(|k| k.2 != ip) {
            kept.push((is_virtual(name), !ip.is_private(), ip));
        }
    }
    // Stable: otherwise in the system's order.
    kept.sort_by_key(|&(virtual_bridge, public, _)| (virtual_bridge, public));
    kept.into_iter().map(|k| k.2).collect()
}

/// Interfaces that container and VM tools create; a phone cannot reach them.
fn is_virtual(name: &str) -> bool {
    ["docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "cni", "podman", "lxc", "lxd"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_link_local_and_duplicates_are_skipped() {
        let ips = lan_only([
            ("lo", Ipv4Addr::LOCALHOST),
            ("eth0", Ipv4Addr::new(169, 254, 3, 4)),
            ("wlan0", Ipv4Addr::new(192, 168, 1, 20)),
            ("wlan0", Ipv4Addr::new(192, 168, 1, 20)),
        ]);
        assert_eq!(ips, [Ipv4Addr::new(192, 168, 1, 20)]);
    }

    #[test]
    fn wifi_comes_before_bridges_and_public_addresses() {
        let ips = lan_only([
            ("docker0", Ipv4Addr::new(172, 17, 0, 1)),
            ("eth1", Ipv4Addr::new(203, 0, 113, 5)),
            ("wlp2s0", Ipv4Addr::new(10, 0, 0, 7)),
            ("enp3s0", Ipv4Addr::new(192, 168, 1, 20)),
        ]);
        assert_eq!(
            ips,
            [
                Ipv4Addr::new(10, 0, 0, 7),
                Ipv4Addr::new(192, 168, 1, 20),
                Ipv4Addr::new(203, 0, 113, 5),
                Ipv4Addr::new(172, 17, 0, 1),
            ]
        );
    }

    #[test]
    fn listing_this_machine_does_not_fail() {
        for ip in ipv4_addresses() {
            assert!(!ip.is_loopback() && !ip.is_link_local(), "{ip}");
        }
    }
}
