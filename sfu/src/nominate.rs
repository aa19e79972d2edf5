//! Answering on a member's first checked path, not one ping later.
//!
//! str0m's ICE-lite agent sends nothing, DTLS included, until the member
//! nominates a path (a check with USE-CANDIDATE). Chromium checks a path,
//! then nominates it on its next check, one ping interval (~50 ms) later: its
//! DTLS ClientHello waited unanswered that long, then was sent again
//! (packet capture of the e2e test, `docs/BENCHMARKS.md`, "Call setup in a
//! room on the SFU"). As mediasoup's ICE-lite server does, the SFU answers on
//! the first path a check authenticated with the session's own password came
//! from: it hands str0m a copy of that check marked USE-CANDIDATE, signed with
//! the same password. The member's own nomination replaces the path if it
//! picks another; the copy grants nothing a genuine check did not.

use str0m::config::CryptoProvider;
use str0m::ice::{StunMessage, TransId};

/// A copy of `datagram`, if it is a member's binding request that does not
/// nominate and is signed with `password` (the session's local ICE
/// password): the same check, nominating, signed alike. A check not signed
/// so (a forger who saw the username on the wire) gets nothing.
pub(crate) fn nominating_copy(datagram: &[u8], password: &str, crypto: &CryptoProvider) -> Option<Vec<u8>> {
    let hmac = |key: &[u8], payloads: &[&[u8]]| crypto.sha1_hmac_provider.sha1_hmac(key, payloads);
    let check = StunMessage::parse(datagram).ok()?;
    if !check.is_binding_request() || check.use_candidate() || !check.verify(password.as_bytes(), hmac) {
        return None;
    }
    // Only the controlling side (the member: the SFU is lite) nominates.
    let tie_breaker = check.ice_controlling()?;
    let copy = StunMessage::binding_request(check.username()?, TransId::new(), true, tie_breaker, check.prio()?, true);
    let mut buf = vec![0u8; datagram.len() + 64];
    let len = copy.to_bytes(Some(password.as_bytes()), &mut buf, hmac).ok()?;
    buf.truncate(len);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(use_candidate: bool, crypto: &CryptoProvider) -> Vec<u8> {
        signed(use_candidate, b"secret", crypto)
    }

    fn signed(use_candidate: bool, password: &[u8], crypto: &CryptoProvider) -> Vec<u8> {
        let message = StunMessage::binding_request("sfu:member", TransId::new(), true, 7, 1234, use_candidate);
        let mut buf = vec![0u8; 200];
        let hmac = |key: &[u8], payloads: &[&[u8]]| crypto.sha1_hmac_provider.sha1_hmac(key, payloads);
        let len = message.to_bytes(Some(password), &mut buf, hmac).unwrap();
        buf.truncate(len);
        buf
    }

    #[test]
    fn a_check_that_does_not_nominate_is_copied_nominating_and_signed_alike() {
        let crypto = str0m::crypto::from_feature_flags();
        let copy = nominating_copy(&check(false, &crypto), "secret", &crypto).expect("a copy");
        let copy = StunMessage::parse(&copy).unwrap();
        assert!(copy.is_binding_request() && copy.use_candidate());
        assert_eq!((copy.username(), copy.prio(), copy.ice_controlling()), (Some("sfu:member"), Some(1234), Some(7)));
        let hmac = |key: &[u8], payloads: &[&[u8]]| crypto.sha1_hmac_provider.sha1_hmac(key, payloads);
        assert!(copy.verify(b"secret", hmac), "signed with the session's password");
    }

    #[test]
    fn nominations_and_other_datagrams_are_not_copied() {
        let crypto = str0m::crypto::from_feature_flags();
        assert_eq!(nominating_copy(&check(true, &crypto), "secret", &crypto), None);
        // Someone who saw the username on the wire, without the password.
        assert_eq!(nominating_copy(&signed(false, b"guess", &crypto), "secret", &crypto), None);
        assert_eq!(nominating_copy(&[22, 254, 253, 0, 0], "secret", &crypto), None);
        assert_eq!(nominating_copy(&[], "secret", &crypto), None);
    }
}
