//! Which pages may open `/ws`. Browsers let any page open a WebSocket to any
//! server, sending the page's `Origin`; without this check a site a member
//! visits could join rooms as them (cross-site WebSocket hijacking).

/// An origin from `--allowed-origin`: `scheme://host[:port]`, in the form
/// browsers send it (lowercase, no default port, no path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an origin like https://meet.example.org or http://10.0.0.5:8080, got {0:?}")]
pub struct OriginError(String);

impl AllowedOrigin {
    /// Accepts what people paste: surrounding spaces, a trailing `/`, any case.
    pub fn parse(raw: &str) -> Result<Self, OriginError> {
        let trimmed = raw.trim();
        let origin = trimmed.strip_suffix('/').unwrap_or(trimmed);
        normalize(origin)
            .map(Self)
            .ok_or_else(|| OriginError(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a WebSocket handshake may proceed, given its `Origin` and the
/// hosts it was sent to: `Host` (or HTTP/2's `:authority`) and, if a proxy
/// set one, `X-Forwarded-Host`.
///
/// - No `Origin`: not a browser (a browser always sends one here), and
///   whatever it is could forge one anyway.
/// - The server's own origin: its host and port are the ones the request
///   was sent to. The scheme is not compared: behind a TLS proxy the server
///   cannot know it, and a page on the same host is the operator's own.
///   `X-Forwarded-Host` counts too (proxies such as `trunk serve` rewrite
///   `Host`), and is safe to trust: a page cannot set headers on a
///   WebSocket handshake, so a hostile page cannot claim a host with it.
/// - Any origin in `allowed`.
pub fn allows(allowed: &[AllowedOrigin], origin: Option<&str>, hosts: &[&str]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    // `null` (sandboxed frames, files) and garbage are never the server's own.
    let Some(origin) = normalize(origin) else {
        return false;
    };
    allowed.iter().any(|a| a.0 == origin) || hosts.iter().any(|host| same_host(&origin, host))
}

/// `scheme://host[:port]` as browsers send it, or `None` if it is not one.
fn normalize(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = without_default_port(&scheme, &authority.to_ascii_lowercase())?;
    let well_formed = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']'));
    well_formed.then(|| format!("{scheme}://{authority}"))
}

/// `None` for a scheme a page cannot have.
fn without_default_port(scheme: &str, authority: &str) -> Option<String> {
    let default = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    Some(
        authority
            .strip_suffix(default)
            .unwrap_or(authority)
            .to_owned(),
    )
}

/// `origin` is normalized; `host` is a `Host` header.
fn same_host(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    without_default_port(scheme, &host.trim().to_ascii_lowercase())
        .is_some_and(|host| host == authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(origins: &[&str]) -> Vec<AllowedOrigin> {
        origins
            .iter()
            .map(|o| AllowedOrigin::parse(o).unwrap())
            .collect()
    }

    #[test]
    fn allowed_origins_are_read_as_browsers_send_them() {
        for (raw, want) in [
            ("https://meet.example.org", "https://meet.example.org"),
            (" HTTPS://Meet.Example.org/ ", "https://meet.example.org"),
            ("https://meet.example.org:443", "https://meet.example.org"),
            ("http://10.0.0.5:80", "http://10.0.0.5"),
            ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
            (
                "https://meet.example.org:8443",
                "https://meet.example.org:8443",
            ),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ] {
            assert_eq!(AllowedOrigin::parse(raw).unwrap().as_str(), want, "{raw}");
        }
        for bad in [
            "",
            "meet.example.org",
            "ftp://meet.example.org",
            "https://",
            "https://meet.example.org/room",
            "https://user@meet.example.org",
            "https://meet.example.org?x",
            "null",
        ] {
            assert!(AllowedOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_servers_own_origin_and_no_origin_are_accepted() {
        let none = listed(&[]);
        assert!(allows(&none, None, &["127.0.0.1:8080"]));
        assert!(allows(&none, None, &[]));
        for (origin, hosts) in [
            ("http://127.0.0.1:8080", &["127.0.0.1:8080"][..]),
            ("http://LOCALHOST:8080", &["localhost:8080"]),
            ("https://meet.example.org", &["meet.example.org"]),
            ("https://meet.example.org", &["meet.example.org:443"]),
            ("http://[::1]:8080", &["[::1]:8080"]),
            // A proxy that rewrote Host and said where the request was sent.
            (
                "http://localhost:8081",
                &["127.0.0.1:8080", "localhost:8081"],
            ),
        ] {
            assert!(allows(&none, Some(origin), hosts), "{origin} on {hosts:?}");
        }
    }

    #[test]
    fn other_origins_are_refused_unless_listed() {
        let none = listed(&[]);
        for (origin, hosts) in [
            ("http://evil.example", &["127.0.0.1:8080"][..]),
            ("http://127.0.0.1:9090", &["127.0.0.1:8080"]),
            ("http://127.0.0.1", &["127.0.0.1:8080"]),
            ("http://localhost:8080", &["127.0.0.1:8080"]),
            (
                "https://meet.example.org.evil.example",
                &["meet.example.org"],
            ),
            ("null", &["127.0.0.1:8080"]),
            ("", &["127.0.0.1:8080"]),
            ("http://evil.example/", &["evil.example"]),
            (
                "http://localhost:9999",
                &["127.0.0.1:8080", "localhost:8081"],
            ),
            ("http://127.0.0.1:8080", &[]),
        ] {
            assert!(!allows(&none, Some(origin), hosts), "{origin} on {hosts:?}");
        }

        let some = listed(&["https://meet.example.org", "http://10.0.0.5:8080"]);
        let host = &["backend:8080"][..];
        assert!(allows(&some, Some("https://meet.example.org"), host));
        assert!(allows(&some, Some("http://10.0.0.5:8080"), host));
        assert!(
            allows(&some, Some("http://backend:8080"), host),
            "and its own"
        );
        assert!(
            !allows(&some, Some("http://meet.example.org"), host),
            "scheme"
        );
        assert!(!allows(&some, Some("https://evil.example"), host));
    }
}
