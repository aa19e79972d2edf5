//! Which pages may open `/ws`. Browsers let any page open a WebSocket to any
//! server, sending the page's `Origin`; without this check a site a member
//! visits could join rooms as them (cross-site WebSocket hijacking).

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

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
        normalize(origin).map(Self).ok_or_else(|| OriginError(raw.to_owned()))
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
        && authority.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']'));
    well_formed.then(|| format!("{scheme}://{authority}"))
}

/// `None` for a scheme a page cannot have.
fn without_default_port(scheme: &str, authority: &str) -> Option<String> {
    let default = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    Some(authority.strip_suffix(default).unwrap_or(authority).to_owned())
}

/// `origin` is normalized; `host` is a `Host` header.
fn same_host(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    without_default_port(scheme, &host.trim().to_ascii_lowercase()).is_some_and(|host| host == authority)
}

/// A name this server is reached at, from `--public-host`: `host` or
/// `host:port`, lowercase. Without a port it stands for the name on any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicHost {
    name: String,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a host name like moim.example.org or moim.example.org:8443, got {0:?}")]
pub struct PublicHostError(String);

impl PublicHost {
    /// Accepts what people paste: surrounding spaces, any case, a trailing dot.
    pub fn parse(raw: &str) -> Result<Self, PublicHostError> {
        split_host(raw.trim())
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, port)| Self { name, port })
            .ok_or_else(|| PublicHostError(raw.to_owned()))
    }

    /// As it was given, normalized: `name` or `name:port`.
    pub fn as_string(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.name),
            None => self.name.clone(),
        }
    }

    fn matches(&self, name: &str, port: Option<u16>) -> bool {
        // A browser leaves out the default port, and which default (80 or
        // 443) the server cannot tell behind a TLS proxy.
        let port_fits = match (self.port, port) {
            (None, _) => true,
            (Some(want), None) => matches!(want, 80 | 443),
            (Some(want), Some(got)) => want == got,
        };
        self.name == name && port_fits
    }
}

/// `host[:port]` as a `Host` header carries it, lowercase, without a
/// trailing dot; `None` if it is not one (a scheme, a path, a user, junk).
fn split_host(host: &str) -> Option<(String, Option<u16>)> {
    let host = host.to_ascii_lowercase();
    let (name, port) = match host.strip_prefix('[') {
        // An IPv6 literal keeps its brackets, as browsers send it.
        Some(rest) => {
            let (inside, after) = rest.split_once(']')?;
            let ok = !inside.is_empty() && inside.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'));
            (ok.then(|| format!("[{inside}]"))?, after)
        }
        None => match host.find(':') {
            Some(at) => (host[..at].to_owned(), &host[at..]),
            None => (host.clone(), ""),
        },
    };
    let port = match port {
        "" => None,
        _ => Some(port.strip_prefix(':')?.parse::<u16>().ok()?),
    };
    let name = name.strip_suffix('.').unwrap_or(&name).to_owned();
    let well_formed =
        name.starts_with('[') || name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    well_formed.then_some((name, port))
}

/// Whether a request sent to `host` (a `Host` header or the like) may be
/// served. With no public hosts configured, any may; otherwise one of them
/// or this machine's loopback names, on any port.
///
/// DNS rebinding is why: a hostile site can make its own name resolve to
/// this server, and then its pages are same-origin with it as far as the
/// browser knows, `Origin` and `Host` agreeing. Only the name tells them
/// apart, and only the operator knows the right names.
pub fn host_allowed(public: &[PublicHost], host: &str) -> bool {
    if public.is_empty() {
        return true;
    }
    let Some((name, port)) = split_host(host.trim()) else {
        return false;
    };
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]") || public.iter().any(|p| p.matches(&name, port))
}

pub const MISDIRECTED: &str = "This Moim server answers only to the names its operator gave it \
(--public-host), and this request was sent to another one. Use the address you were given.";

/// Refuses, with 421 Misdirected Request, a request for a host that is not
/// one of `public` (see [`host_allowed`]): `Host`, the URI's authority (HTTP/2,
/// or an absolute URI) and a proxy's `X-Forwarded-Host` must all be.
pub async fn misdirected(State(public): State<Arc<[PublicHost]>>, req: Request, next: Next) -> Response {
    if public.is_empty() {
        return next.run(req).await;
    }
    let headers = req.headers();
    let host = headers.get(header::HOST).map(|v| v.to_str().unwrap_or(""));
    let authority = req.uri().authority().map(|a| a.as_str());
    // The first proxy's, as `/ws` reads it.
    let forwarded = headers.get("x-forwarded-host").map(|v| v.to_str().unwrap_or("").split(',').next().unwrap_or(""));
    // A browser always names the host; a request naming none is not for us.
    let named = host.is_some() || authority.is_some();
    let all_ours = [host, authority, forwarded].into_iter().flatten().all(|h| host_allowed(&public, h));
    if named && all_ours {
        return next.run(req).await;
    }
    // Debug: anyone can send these, as fast as they like.
    tracing::debug!(?host, ?authority, ?forwarded, "request for another host refused");
    (StatusCode::MISDIRECTED_REQUEST, MISDIRECTED).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(origins: &[&str]) -> Vec<AllowedOrigin> {
        origins.iter().map(|o| AllowedOrigin::parse(o).unwrap()).collect()
    }

    #[test]
    fn allowed_origins_are_read_as_browsers_send_them() {
        for (raw, want) in [
            ("https://meet.example.org", "https://meet.example.org"),
            (" HTTPS://Meet.Example.org/ ", "https://meet.example.org"),
            ("https://meet.example.org:443", "https://meet.example.org"),
            ("http://10.0.0.5:80", "http://10.0.0.5"),
            ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
            ("https://meet.example.org:8443", "https://meet.example.org:8443"),
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
            ("http://localhost:8081", &["127.0.0.1:8080", "localhost:8081"]),
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
            ("https://meet.example.org.evil.example", &["meet.example.org"]),
            ("null", &["127.0.0.1:8080"]),
            ("", &["127.0.0.1:8080"]),
            ("http://evil.example/", &["evil.example"]),
            ("http://localhost:9999", &["127.0.0.1:8080", "localhost:8081"]),
            ("http://127.0.0.1:8080", &[]),
        ] {
            assert!(!allows(&none, Some(origin), hosts), "{origin} on {hosts:?}");
        }

        let some = listed(&["https://meet.example.org", "http://10.0.0.5:8080"]);
        let host = &["backend:8080"][..];
        assert!(allows(&some, Some("https://meet.example.org"), host));
        assert!(allows(&some, Some("http://10.0.0.5:8080"), host));
        assert!(allows(&some, Some("http://backend:8080"), host), "and its own");
        assert!(!allows(&some, Some("http://meet.example.org"), host), "scheme");
        assert!(!allows(&some, Some("https://evil.example"), host));
    }

    fn public(hosts: &[&str]) -> Vec<PublicHost> {
        hosts.iter().map(|h| PublicHost::parse(h).unwrap()).collect()
    }

    #[test]
    fn public_hosts_are_read_as_hosts_are_sent() {
        for (raw, want) in [
            ("moim.example.org", "moim.example.org"),
            (" Moim.Example.ORG. ", "moim.example.org"),
            ("moim.example.org:8443", "moim.example.org:8443"),
            ("10.0.0.5", "10.0.0.5"),
            ("[FD00::5]:8443", "[fd00::5]:8443"),
        ] {
            assert_eq!(PublicHost::parse(raw).unwrap().as_string(), want, "{raw}");
        }
        for bad in [
            "",
            "https://moim.example.org",
            "moim.example.org/",
            "user@moim.example.org",
            "moim.example.org:",
            "moim.example.org:99999",
            "fd00::5",
            "[]",
            ":8080",
        ] {
            assert!(PublicHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn with_public_hosts_only_they_and_loopback_are_served() {
        assert!(host_allowed(&[], "evil.example:8080"), "none configured: any host");
        let hosts = public(&["moim.example.org", "meet.example.org:8443"]);
        for host in [
            "moim.example.org",
            "MOIM.example.org:8080",
            "moim.example.org.",
            "meet.example.org:8443",
            "localhost:8080",
            "127.0.0.1",
            "127.0.0.1:9",
            "[::1]:8080",
        ] {
            assert!(host_allowed(&hosts, host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8443",
            "meet.example.org:8080",
            "moim.example.org.evil.example",
            "10.0.0.5:8080",
            "127.0.0.2",
            "",
            "moim.example.org/x",
        ] {
            assert!(!host_allowed(&hosts, host), "{host}");
        }
        // A default port given is the one a browser leaves out.
        let https = public(&["moim.example.org:443"]);
        assert!(host_allowed(&https, "moim.example.org"));
        assert!(!host_allowed(&https, "moim.example.org:8443"));
    }
}
