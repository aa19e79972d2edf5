//! TURN credentials that expire, in coturn's REST format (`use-auth-secret`):
//! Moim and the TURN server share a secret, so no account is made per user,
//! and a credential copied out of a page stops working after `ttl`.

use base64::Engine;
use hmac::{Hmac, Mac};
use shared::{IceServer, PeerId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a joiner's TURN entry is made from.
#[derive(Clone)]
pub struct TurnRest {
    /// `turn:`/`turns:` URLs of servers that share `secret`.
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub secret: String,
    /// How long each credential works.
    pub ttl: Duration,
}

/// The user of credentials given to a page before Join (`/api/ice-servers`).
pub const LOBBY_USER: &str = "moim-lobby";

impl TurnRest {
    /// Fresh credentials for `peer`, valid for `ttl` from now.
    pub fn for_peer(&self, peer: PeerId) -> IceServer {
        self.ice_server(&format!("moim-{peer}"), SystemTime::now())
    }

    /// Fresh credentials for a page that has not joined yet.
    pub fn for_lobby(&self) -> IceServer {
        self.ice_server(LOBBY_USER, SystemTime::now())
    }

    /// The entry for `user` at `now`: username `<expiry unix seconds>:<user>`,
    /// credential base64(HMAC-SHA1(secret, username)).
    pub fn ice_server(&self, user: &str, now: SystemTime) -> IceServer {
        let expiry =
            now.checked_add(self.ttl).and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        let username = format!("{expiry}:{user}");
        IceServer {
            urls: self.urls.clone(),
            credential: Some(credential(&self.secret, &username)),
            username: Some(username),
        }
    }
}

/// base64(HMAC-SHA1(secret, username)), what coturn recomputes to check it.
pub fn credential(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Without the secret, so logging a `Config` never leaks it.
impl std::fmt::Debug for TurnRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnRest")
            .field("urls", &self.urls)
            .field("secret", &"<hidden>")
            .field("ttl", &self.ttl)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(ttl: Duration) -> TurnRest {
        TurnRest { urls: vec!["turn:turn.example.org:3478".into()], secret: "secret".into(), ttl }
    }

    #[test]
    fn credential_matches_an_independently_computed_vector() {
        // python3: base64.b64encode(hmac.new(b"secret", b"1700086400:moim-7", hashlib.sha1).digest())
        assert_eq!(credential("secret", "1700086400:moim-7"), "Cm434ViFqzuDXs2CVNARssSeb64=");
    }

    #[test]
    fn username_expires_ttl_after_now() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let server = turn(Duration::from_secs(86_400)).ice_server("moim-7", now);
        assert_eq!(server.urls, ["turn:turn.example.org:3478"]);
        assert_eq!(server.username.as_deref(), Some("1700086400:moim-7"));
        assert_eq!(server.credential.as_deref(), Some("Cm434ViFqzuDXs2CVNARssSeb64="));
    }

    #[test]
    fn each_peer_gets_its_own_fresh_username() {
        let ttl = Duration::from_secs(600);
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + ttl;
        let server = turn(ttl).for_peer(PeerId(42));
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + ttl;
        let username = server.username.unwrap();
        let (expiry, user) = username.split_once(':').unwrap();
        let expiry: u64 = expiry.parse().unwrap();
        assert!((before.as_secs()..=after.as_secs()).contains(&expiry));
        assert_eq!(user, "moim-42");
        assert_eq!(server.credential.unwrap(), credential("secret", &username));
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", TurnRest { secret: "hunter2".into(), ..turn(Duration::from_secs(1)) });
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("turn.example.org"), "{shown}");
    }
}
