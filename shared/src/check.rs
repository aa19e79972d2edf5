//! "Test my setup" (`/check`): what the candidates a browser gathered, and
//! the errors it met gathering them, say about its network. Pure: the page
//! hands over the candidate lines and `icecandidateerror` codes.

/// What a STUN server told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stun {
    /// The server gives none: calls across NATs may fail.
    NotConfigured,
    /// Our address as the STUN server saw it (`srflx`): behind a NAT, and
    /// the way through it is known.
    Reflexive(String),
    /// It answered without error but gave no other address than ours: no
    /// NAT between us and it (the browser drops a reflexive candidate equal
    /// to a host one).
    NoTranslation,
    /// It did not answer (`icecandidateerror` 701) or refused.
    Unreachable(u16),
}

/// What a TURN server gave us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    NotConfigured,
    /// A relayed address on the server, and how we reach it.
    Relay {
        address: String,
        protocol: String,
    },
    /// It refused our credentials (401, 403, 437…).
    Refused(u16),
    /// No relay came: unreachable (701) or nothing at all in time (0).
    Unreachable(u16),
}

/// `typ` of an ICE candidate line (`host`, `srflx`, `prflx`, `relay`).
pub fn candidate_type(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    words.by_ref().find(|&w| w == "typ")?;
    words.next()
}

/// The address and transport of a candidate line: `candidate:<foundation>
/// <component> <transport> <priority> <address> <port> typ ...`.
pub fn candidate_address(line: &str) -> Option<(String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (transport, address, port) = (words.get(2)?, words.get(4)?, words.get(5)?);
    Some((format!("{address}:{port}"), transport.to_ascii_uppercase()))
}

/// An auth failure from a STUN/TURN server, as `icecandidateerror` codes it.
fn is_refusal(code: u16) -> bool {
    matches!(code, 400..=499)
}

/// The STUN verdict from a gathering with only STUN servers.
pub fn stun(configured: bool, candidates: &[String], errors: &[u16]) -> Stun {
    if !configured {
        return Stun::NotConfigured;
    }
    if let Some(line) = candidates.iter().find(|c| candidate_type(c) == Some("srflx")) {
        return Stun::Reflexive(candidate_address(line).map(|(address, _)| address).unwrap_or_default());
    }
    match errors.first() {
        Some(&code) => Stun::Unreachable(code),
        None => Stun::NoTranslation,
    }
}

/// The TURN verdict from a relay-only gathering with this server's TURN
/// credentials.
pub fn turn(configured: bool, candidates: &[String], errors: &[u16]) -> Turn {
    if !configured {
        return Turn::NotConfigured;
    }
    if let Some((address, protocol)) =
        candidates.iter().find(|c| candidate_type(c) == Some("relay")).and_then(|c| candidate_address(c))
    {
        return Turn::Relay { address, protocol };
    }
    if let Some(&code) = errors.iter().find(|&&c| is_refusal(c)) {
        return Turn::Refused(code);
    }
    Turn::Unreachable(errors.first().copied().unwrap_or(0))
}

/// Whether a URL names a STUN server (`stun:`/`stuns:`) or a TURN one.
pub fn is_turn_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("turn:") || lower.starts_with("turns:")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0";
    const SRFLX: &str = "candidate:2 1 udp 1686052607 203.0.113.7 61000 typ srflx raddr 192.168.1.20 rport 54321";
    const RELAY: &str = "candidate:3 1 udp 41885439 127.0.0.1 50123 typ relay raddr 0.0.0.0 rport 0";

    #[test]
    fn candidate_lines_are_read() {
        assert_eq!(candidate_type(HOST), Some("host"));
        assert_eq!(candidate_type(RELAY), Some("relay"));
        assert_eq!(candidate_type("garbage"), None);
        assert_eq!(candidate_address(SRFLX), Some(("203.0.113.7:61000".into(), "UDP".into())));
    }

    #[test]
    fn stun_says_the_public_address_or_why_not() {
        assert_eq!(stun(false, &[], &[]), Stun::NotConfigured);
        assert_eq!(stun(true, &[HOST.into(), SRFLX.into()], &[]), Stun::Reflexive("203.0.113.7:61000".into()));
        assert_eq!(stun(true, &[HOST.into()], &[]), Stun::NoTranslation);
        assert_eq!(stun(true, &[HOST.into()], &[701]), Stun::Unreachable(701));
    }

    #[test]
    fn turn_says_the_relay_or_why_not() {
        assert_eq!(turn(false, &[], &[]), Turn::NotConfigured);
        let relay = Turn::Relay { address: "127.0.0.1:50123".into(), protocol: "UDP".into() };
        assert_eq!(turn(true, &[RELAY.into()], &[701]), relay, "a relay from one of the servers is enough");
        assert_eq!(turn(true, &[], &[701, 401]), Turn::Refused(401), "bad credentials are said as such");
        assert_eq!(turn(true, &[], &[701]), Turn::Unreachable(701));
        assert_eq!(turn(true, &[], &[]), Turn::Unreachable(0));
    }

    #[test]
    fn turn_urls_are_told_from_stun_ones() {
        assert!(is_turn_url("turn:127.0.0.1:3478?transport=udp"));
        assert!(is_turn_url("TURNS:relay.example.org:5349"));
        assert!(!is_turn_url("stun:stun.l.google.com:19302"));
    }
}
