//! `backend`: runs Moim's server. Every flag also reads an environment
//! variable, so containers and `.env` files need no wrapper script.

use backend::{AllowedOrigin, OriginError};
use clap::Parser;
use shared::IceServer;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MOIM_BIND", default_value = "0.0.0.0")]
    bind: IpAddr,

    /// Port to listen on.
    #[arg(long, env = "MOIM_PORT", default_value_t = 8080)]
    port: u16,

    /// The built web app (trunk's output folder).
    #[arg(long, env = "MOIM_DIST", default_value = "dist")]
    dist: PathBuf,

    /// STUN/TURN server URL for browsers; repeat or comma-separate.
    /// An empty value means none (peers on one network still connect).
    #[arg(
        long = "ice-server",
        env = "MOIM_ICE_SERVERS",
        value_name = "URL",
        value_delimiter = ',',
        value_parser = ice_url,
        default_value = "stun:stun.l.google.com:19302"
    )]
    ice_servers: Vec<String>,

    /// Username for the turn:/turns: servers.
    #[arg(long, env = "MOIM_TURN_USERNAME")]
    turn_username: Option<String>,

    /// Credential for the turn:/turns: servers.
    #[arg(long, env = "MOIM_TURN_CREDENTIAL", hide_env_values = true)]
    turn_credential: Option<String>,

    /// Members per room. Every member sends to every other, so keep it small.
    #[arg(long, env = "MOIM_ROOM_CAPACITY", default_value_t = 6, value_parser = clap::value_parser!(u16).range(2..))]
    room_capacity: u16,

    /// Seconds a member may stay silent (not even answering the server's
    /// pings) before it is dropped from its room. Pings go every third of it.
    #[arg(long, env = "MOIM_HEARTBEAT_TIMEOUT", value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    heartbeat_timeout: u64,

    /// A page origin (scheme://host[:port]) allowed to open the WebSocket
    /// besides the server's own; repeat or comma-separate. Needed when a
    /// proxy changes the Host header, or the page is served elsewhere.
    #[arg(
        long = "allowed-origin",
        env = "MOIM_ALLOWED_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ',',
        value_parser = origin_arg
    )]
    allowed_origins: Vec<String>,

    /// Open WebSockets allowed from one IP address; 0 for no limit. Behind
    /// a reverse proxy every client has the proxy's address: raise it or use 0.
    #[arg(
        long,
        env = "MOIM_MAX_CONNECTIONS_PER_IP",
        value_name = "N",
        default_value_t = 50
    )]
    max_connections_per_ip: usize,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Origin(#[from] OriginError),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let ice_servers = ice_servers(&args.ice_servers, args.turn_username, args.turn_credential);
    let config = backend::Config {
        ice_servers,
        room_capacity: args.room_capacity.into(),
        dist_dir: args.dist,
    };
    let limits = backend::Limits {
        heartbeat_timeout: Duration::from_secs(args.heartbeat_timeout),
        allowed_origins: allowed_origins(&args.allowed_origins)?,
        max_connections_per_ip: args.max_connections_per_ip,
        ..backend::Limits::default()
    };
    if !config.dist_dir.join("index.html").is_file() {
        tracing::warn!(dist = %config.dist_dir.display(), "the web app is not built: pages answer 503 until it is");
    }
    // Not `?config`: it holds the TURN credential.
    let ice_urls: Vec<&str> = config
        .ice_servers
        .iter()
        .flat_map(|s| &s.urls)
        .map(String::as_str)
        .collect();
    tracing::info!(
        room_capacity = config.room_capacity,
        ?ice_urls,
        ?limits,
        "starting"
    );

    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let port = listener.local_addr().map_or(args.port, |a| a.port());
    // localhost only reaches the server if it listens there too.
    let host = if args.bind.is_unspecified() || args.bind.is_loopback() {
        "localhost".to_owned()
    } else {
        SocketAddr::new(args.bind, port).ip().to_string()
    };
    println!("Moim is running at http://{host}:{port}");
    backend::serve_with(listener, config, limits, backend::shutdown_signal())
        .await
        .map_err(Error::Serve)
}

/// An origin, or empty for none (e.g. an empty `MOIM_ALLOWED_ORIGINS`).
fn origin_arg(raw: &str) -> Result<String, OriginError> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    AllowedOrigin::parse(raw).map(|o| o.as_str().to_owned())
}

fn allowed_origins(raw: &[String]) -> Result<Vec<AllowedOrigin>, OriginError> {
    raw.iter()
        .filter(|o| !o.is_empty())
        .map(|o| AllowedOrigin::parse(o))
        .collect()
}

/// Accepts what browsers accept in `RTCIceServer.urls`, or empty for none.
fn ice_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let known = ["stun:", "stuns:", "turn:", "turns:"];
    if url.is_empty() || known.iter().any(|scheme| has_scheme(url, scheme)) {
        Ok(url.to_owned())
    } else {
        Err(format!(
            "expected a stun:, stuns:, turn: or turns: URL, got {url:?}"
        ))
    }
}

fn has_scheme(url: &str, scheme: &str) -> bool {
    url.get(..scheme.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
}

/// STUN URLs in one entry, TURN URLs (with their credentials) in another.
fn ice_servers(
    urls: &[String],
    username: Option<String>,
    credential: Option<String>,
) -> Vec<IceServer> {
    let (turn, stun): (Vec<String>, Vec<String>) = urls
        .iter()
        .filter(|url| !url.is_empty())
        .cloned()
        .partition(|url| has_scheme(url, "turn:") || has_scheme(url, "turns:"));
    if turn.is_empty() && (username.is_some() || credential.is_some()) {
        tracing::warn!("TURN username/credential given but no turn: or turns: URL");
    }
    if !turn.is_empty() && (username.is_none() || credential.is_none()) {
        tracing::warn!("turn: URLs without a username and credential usually fail");
    }
    let mut servers = Vec::new();
    if !stun.is_empty() {
        servers.push(IceServer {
            urls: stun,
            username: None,
            credential: None,
        });
    }
    if !turn.is_empty() {
        servers.push(IceServer {
            urls: turn,
            username,
            credential,
        });
    }
    servers
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("backend").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn ice_servers_from_flags() {
        let args = parse(&[
            "--ice-server",
            "stun:a:1,turn:b:2",
            "--ice-server",
            "turns:c:3",
        ])
        .unwrap();
        let servers = ice_servers(&args.ice_servers, Some("u".into()), Some("p".into()));
        assert_eq!(servers.len(), 2);
        assert_eq!(
            servers[0],
            IceServer {
                urls: vec!["stun:a:1".into()],
                username: None,
                credential: None
            }
        );
        assert_eq!(servers[1].urls, ["turn:b:2", "turns:c:3"]);
        assert_eq!(
            (
                servers[1].username.as_deref(),
                servers[1].credential.as_deref()
            ),
            (Some("u"), Some("p"))
        );

        let none = parse(&["--ice-server", ""]).unwrap();
        assert!(ice_servers(&none.ice_servers, None, None).is_empty());
        assert!(parse(&["--ice-server", "http://x"]).is_err());
    }

    #[test]
    fn room_capacity_defaults_to_six() {
        // Read from the definition, not a parse: MOIM_ROOM_CAPACITY may be set here.
        let command = Args::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == "room_capacity")
            .unwrap();
        assert_eq!(arg.get_default_values(), ["6"]);
        assert_eq!(
            arg.get_env().and_then(|v| v.to_str()),
            Some("MOIM_ROOM_CAPACITY")
        );
    }

    #[test]
    fn heartbeat_timeout_is_in_seconds_and_not_zero() {
        let command = Args::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == "heartbeat_timeout")
            .unwrap();
        assert_eq!(arg.get_default_values(), ["15"]);
        assert_eq!(
            arg.get_env().and_then(|v| v.to_str()),
            Some("MOIM_HEARTBEAT_TIMEOUT")
        );
        assert!(parse(&["--heartbeat-timeout", "0"]).is_err());
        assert_eq!(
            parse(&["--heartbeat-timeout", "5"])
                .unwrap()
                .heartbeat_timeout,
            5
        );
    }

    #[test]
    fn allowed_origins_from_flags() {
        let args = parse(&[
            "--allowed-origin",
            "https://Meet.Example.org/,http://10.0.0.5:8080",
            "--allowed-origin",
            "https://other.example:443",
        ])
        .unwrap();
        let origins = allowed_origins(&args.allowed_origins).unwrap();
        let origins: Vec<&str> = origins.iter().map(AllowedOrigin::as_str).collect();
        assert_eq!(
            origins,
            [
                "https://meet.example.org",
                "http://10.0.0.5:8080",
                "https://other.example"
            ]
        );
        let empty = parse(&["--allowed-origin", ""]).unwrap();
        assert!(allowed_origins(&empty.allowed_origins).unwrap().is_empty());
        assert!(parse(&["--allowed-origin", "meet.example.org"]).is_err());
        assert!(parse(&["--allowed-origin", "https://meet.example.org/room"]).is_err());
    }

    #[test]
    fn connections_per_ip_default_to_fifty_and_zero_lifts_the_limit() {
        let command = Args::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == "max_connections_per_ip")
            .unwrap();
        assert_eq!(arg.get_default_values(), ["50"]);
        assert_eq!(
            arg.get_env().and_then(|v| v.to_str()),
            Some("MOIM_MAX_CONNECTIONS_PER_IP")
        );
        let args = parse(&["--max-connections-per-ip", "0"]).unwrap();
        assert_eq!(args.max_connections_per_ip, 0);
        assert!(parse(&["--max-connections-per-ip", "-1"]).is_err());
    }

    #[test]
    fn room_capacity_is_at_least_two() {
        assert!(parse(&["--room-capacity", "1"]).is_err());
        assert_eq!(parse(&["--room-capacity", "4"]).unwrap().room_capacity, 4);
    }
}
