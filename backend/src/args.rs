//! The command line: every flag, its environment variable and its checks,
//! so `main.rs` only starts the server. Each flag also reads an environment
//! variable, so containers and `.env` files need no wrapper script.

use backend::turn::TurnRest;
use backend::{AllowedOrigin, MessageRate, OriginError, PublicHost, PublicHostError};
use clap::builder::BoolishValueParser;
use clap::Parser;
use shared::{IceServer, Password, RoomName};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "moim", version = backend::static_files::embedded::BUILD, about)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "MOIM_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Port to listen on.
    #[arg(long, env = "MOIM_PORT", default_value_t = 8080)]
    pub port: u16,

    /// The built web app (trunk's output folder) [default: the copy built
    /// into this binary, if it has one; else `dist`].
    #[arg(long, env = "MOIM_DIST", value_name = "DIR")]
    pub dist: Option<PathBuf>,

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
    pub ice_servers: Vec<String>,

    /// Username for the turn:/turns: servers.
    #[arg(long, env = "MOIM_TURN_USERNAME")]
    pub turn_username: Option<String>,

    /// Credential for the turn:/turns: servers.
    #[arg(long, env = "MOIM_TURN_CREDENTIAL", hide_env_values = true)]
    pub turn_credential: Option<String>,

    /// Secret shared with the --turn-url servers (coturn's
    /// static-auth-secret): each member gets TURN credentials of its own,
    /// made from it, that expire after --turn-ttl.
    #[arg(long, env = "MOIM_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// turn:/turns: URL of a server sharing --turn-secret; repeat or
    /// comma-separate.
    #[arg(
        long = "turn-url",
        env = "MOIM_TURN_URLS",
        value_name = "URL",
        value_delimiter = ',',
        value_parser = turn_url
    )]
    pub turn_urls: Vec<String>,

    /// Seconds the credentials made from --turn-secret stay valid.
    #[arg(long, env = "MOIM_TURN_TTL", value_name = "SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub turn_ttl: u64,

    /// Members connect through the TURN servers only, never directly, so
    /// none learns another's IP address (nor the media server's host
    /// address). Needs a TURN server: --turn-secret with --turn-url, or a
    /// turn: --ice-server with --turn-username and --turn-credential.
    #[arg(long, env = "MOIM_RELAY_ONLY", value_parser = BoolishValueParser::new())]
    pub relay_only: bool,

    /// Serve HTTPS and WSS. Browsers allow the camera only on https pages
    /// (or localhost), so phones and other computers need it.
    #[arg(long, env = "MOIM_TLS", value_parser = BoolishValueParser::new())]
    pub tls: bool,

    /// Certificate chain (PEM) for --tls; without it, a self-signed
    /// certificate for this machine is made and kept in --tls-dir.
    #[arg(long, env = "MOIM_TLS_CERT", value_name = "FILE", requires_all = ["tls", "tls_key"])]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "MOIM_TLS_KEY", value_name = "FILE", requires_all = ["tls", "tls_cert"])]
    pub tls_key: Option<PathBuf>,

    /// Where the self-signed certificate is kept between runs [default:
    /// $XDG_DATA_HOME/moim/tls, or ~/.local/share/moim/tls, or ./.moim-tls].
    #[arg(long, env = "MOIM_TLS_DIR", value_name = "DIR", conflicts_with = "tls_cert")]
    pub tls_dir: Option<PathBuf>,

    /// Print no QR code of the address for phones.
    #[arg(long, env = "MOIM_NO_QR", value_parser = BoolishValueParser::new())]
    pub no_qr: bool,

    /// Members per room [default: 50, or 6 when every room is a mesh
    /// (--sfu-from 0), where each member sends to every other].
    #[arg(long, env = "MOIM_ROOM_CAPACITY", value_parser = clap::value_parser!(u16).range(2..))]
    pub room_capacity: Option<u16>,

    /// Rooms move from a mesh to the media server (SFU) when this many are
    /// in them: each member then sends once and the server forwards. 2 puts
    /// every room on it; 0 turns it off.
    #[arg(long, env = "MOIM_SFU_FROM", value_name = "N", default_value_t = 4, value_parser = sfu_from_arg)]
    pub sfu_from: usize,

    /// The UDP port for all media through the SFU [default: the same
    /// number as --port]. Open it in the firewall.
    #[arg(long, env = "MOIM_MEDIA_PORT", value_name = "PORT")]
    pub media_port: Option<u16>,

    /// An IPv4 address members reach the SFU at; repeat or comma-separate
    /// [default: 127.0.0.1 and the addresses the LAN link uses].
    #[arg(long = "media-address", env = "MOIM_MEDIA_ADDRESSES", value_name = "IP", value_delimiter = ',')]
    pub media_addresses: Vec<Ipv4Addr>,

    /// The public address of a server behind NAT (its media port forwarded):
    /// offered to members as well.
    #[arg(long, env = "MOIM_PUBLIC_IP", value_name = "IP")]
    pub public_ip: Option<Ipv4Addr>,

    /// The most one member may send through the SFU, in kbit/s: video over
    /// it is not forwarded. The camera's three layers take up to 2,100
    /// (`shared::budget::LAYERS`); the rest is room for keyframes.
    #[arg(long, env = "MOIM_MAX_MEMBER_KBPS", value_name = "KBPS", default_value_t = 3000, value_parser = clap::value_parser!(u32).range(100..))]
    pub max_member_kbps: u32,

    /// On the SFU, also fit what each member is sent to str0m's delay-based
    /// estimate of its downlink; it always fits what the member's losses
    /// show (lower layers, then videos paused: "Video paused" on their
    /// tiles). Off by default: on a busy machine the estimate can fall far
    /// below the link for seconds, and video stalls (docs/BENCHMARKS.md).
    #[arg(long, env = "MOIM_BANDWIDTH_ESTIMATION", value_parser = BoolishValueParser::new())]
    pub bandwidth_estimation: bool,

    /// Redis to share rooms with other Moim nodes through (redis://host:port
    /// or redis+unix:///path). Each room lives on one node; members on any
    /// node reach it. Without it this process is the whole service.
    #[arg(long, env = "MOIM_REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,

    /// This node's name in the cluster (letters, digits, '-', '_'; at most
    /// 32) [default: a random one]. Give each node its own.
    #[arg(long, env = "MOIM_NODE_ID", value_name = "ID", value_parser = node_id_arg)]
    pub node_id: Option<String>,

    /// On SIGTERM, the most seconds members get to move to other nodes (with
    /// --redis) or to close before the process exits.
    #[arg(long, env = "MOIM_DRAIN_SECS", value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub drain_secs: u64,

    /// Seconds a member may stay silent (not even answering the server's
    /// pings) before it is dropped from its room. Pings go every third of it.
    #[arg(long, env = "MOIM_HEARTBEAT_TIMEOUT", value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_timeout: u64,

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
    pub allowed_origins: Vec<String>,

    /// The name (host, or host:port) people reach this server at; repeat or
    /// comma-separate. When given, requests for any other name get 421
    /// (localhost and 127.0.0.1 always work), so a hostile site that points
    /// its own name at this server (DNS rebinding) cannot use it.
    #[arg(
        long = "public-host",
        env = "MOIM_PUBLIC_HOSTS",
        value_name = "HOST",
        value_delimiter = ',',
        value_parser = public_host_arg
    )]
    pub public_hosts: Vec<String>,

    /// Messages a second one connection may send. The default never binds a
    /// browser (see `MessageRate`); raise it to load-test the relay.
    #[arg(long, env = "MOIM_MESSAGE_RATE", value_name = "N", default_value_t = MessageRate::default().per_second, value_parser = clap::value_parser!(u32).range(1..))]
    pub message_rate: u32,

    /// Messages one connection may send at once, above --message-rate.
    #[arg(long, env = "MOIM_MESSAGE_BURST", value_name = "N", default_value_t = MessageRate::default().burst, value_parser = clap::value_parser!(u32).range(1..))]
    pub message_burst: u32,

    /// Open WebSockets allowed from one IP address; 0 for no limit. Behind
    /// a reverse proxy every client has the proxy's address: raise it or use 0.
    #[arg(long, env = "MOIM_MAX_CONNECTIONS_PER_IP", value_name = "N", default_value_t = 50)]
    pub max_connections_per_ip: usize,

    /// Locks a room for good: ROOM=PASSWORD; repeat for more rooms. Other
    /// rooms are locked by their first member, if they set a password.
    #[arg(
        long = "room-password",
        env = "MOIM_ROOM_PASSWORDS",
        value_name = "ROOM=PASSWORD",
        value_delimiter = ',',
        hide_env_values = true,
        value_parser = room_password
    )]
    pub room_passwords: Vec<(RoomName, String)>,
}

/// `--turn-secret` and `--turn-url` are each useless without the other.
#[derive(Debug, thiserror::Error)]
pub enum TurnPairError {
    #[error("--turn-secret needs a --turn-url (turn: or turns:) of a server sharing it")]
    SecretWithoutUrl,
    #[error(
        "--turn-url needs --turn-secret, which its credentials are made from \
         (for fixed credentials use --ice-server, --turn-username and --turn-credential)"
    )]
    UrlWithoutSecret,
}

/// `--relay-only` with no TURN server to relay through: no call could connect.
#[derive(Debug, thiserror::Error)]
#[error(
    "--relay-only needs a TURN server: --turn-secret with --turn-url, \
     or a turn: --ice-server with --turn-username and --turn-credential"
)]
pub struct RelayWithoutTurn;

/// Whether members are to relay: only if asked, and then only if some
/// server can relay them.
pub fn relay_only(asked: bool, fixed: &[IceServer], turn: Option<&TurnRest>) -> Result<bool, RelayWithoutTurn> {
    let relays = |url: &String| has_scheme(url, "turn:") || has_scheme(url, "turns:");
    let fixed_turn = fixed.iter().flat_map(|s| &s.urls).any(relays);
    if asked && !fixed_turn && turn.is_none() {
        return Err(RelayWithoutTurn);
    }
    Ok(asked)
}

/// Credentials per member from `--turn-secret`, if given; each of secret
/// and URLs is useless without the other.
pub fn turn_rest(secret: Option<String>, urls: &[String], ttl: u64) -> Result<Option<TurnRest>, TurnPairError> {
    let secret = secret.filter(|s| !s.is_empty());
    let urls: Vec<String> = urls.iter().filter(|u| !u.is_empty()).cloned().collect();
    match (secret, urls.is_empty()) {
        (None, true) => Ok(None),
        (Some(_), true) => Err(TurnPairError::SecretWithoutUrl),
        (None, false) => Err(TurnPairError::UrlWithoutSecret),
        (Some(secret), false) => Ok(Some(TurnRest { urls, secret, ttl: Duration::from_secs(ttl) })),
    }
}

/// A `turn:` or `turns:` URL, or empty for none.
fn turn_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    if url.is_empty() || has_scheme(url, "turn:") || has_scheme(url, "turns:") {
        Ok(url.to_owned())
    } else {
        Err(format!("expected a turn: or turns: URL, got {url:?}"))
    }
}

/// rustls settings from `--tls-cert`/`--tls-key`, or else from the
/// self-signed certificate for this machine's addresses.
/// An origin, or empty for none (e.g. an empty `MOIM_ALLOWED_ORIGINS`).
/// `ROOM=PASSWORD`, checked by the rules a joiner's room name and password meet.
fn room_password(raw: &str) -> Result<(RoomName, String), String> {
    let (room, password) = raw.split_once('=').ok_or_else(|| format!("expected ROOM=PASSWORD, got {raw:?}"))?;
    let room = RoomName::parse(room).map_err(|e| format!("room {room:?}: {e}"))?;
    // The rule a member's join is held to.
    let password = Password::parse(password).map_err(|e| format!("room {room}: {e}"))?;
    Ok((room, password.as_str().to_owned()))
}

fn origin_arg(raw: &str) -> Result<String, OriginError> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    AllowedOrigin::parse(raw).map(|o| o.as_str().to_owned())
}

pub fn allowed_origins(raw: &[String]) -> Result<Vec<AllowedOrigin>, OriginError> {
    raw.iter().filter(|o| !o.is_empty()).map(|o| AllowedOrigin::parse(o)).collect()
}

/// A host name, or empty for none (e.g. an empty `MOIM_PUBLIC_HOSTS`).
fn public_host_arg(raw: &str) -> Result<String, PublicHostError> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    PublicHost::parse(raw).map(|h| h.as_string())
}

pub fn public_hosts(raw: &[String]) -> Result<Vec<PublicHost>, PublicHostError> {
    raw.iter().filter(|h| !h.is_empty()).map(|h| PublicHost::parse(h)).collect()
}

/// Accepts what browsers accept in `RTCIceServer.urls`, or empty for none.
fn ice_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    let known = ["stun:", "stuns:", "turn:", "turns:"];
    if url.is_empty() || known.iter().any(|scheme| has_scheme(url, scheme)) {
        Ok(url.to_owned())
    } else {
        Err(format!("expected a stun:, stuns:, turn: or turns: URL, got {url:?}"))
    }
}

fn has_scheme(url: &str, scheme: &str) -> bool {
    url.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme))
}

/// STUN URLs in one entry, TURN URLs (with their credentials) in another.
pub fn ice_servers(urls: &[String], username: Option<String>, credential: Option<String>) -> Vec<IceServer> {
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
        servers.push(IceServer { urls: stun, username: None, credential: None });
    }
    if !turn.is_empty() {
        servers.push(IceServer { urls: turn, username, credential });
    }
    servers
}

/// `--sfu-from`: 0 (off), or a room size of at least 2.
fn node_id_arg(raw: &str) -> Result<String, String> {
    backend::cluster::ClusterConfig::check_node_id(raw).map(|()| raw.to_owned()).map_err(|e| e.to_string())
}

fn sfu_from_arg(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(1) => Err("1 would put a member alone on the media server: use 0 (off) or 2 and up".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Members per room: as given, else 50 when rooms move to the SFU and 6 when
/// every room is a mesh.
pub fn room_capacity(given: Option<u16>, sfu_from: usize) -> usize {
    given.map_or(if sfu_from == 0 { 6 } else { 50 }, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::Path;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("backend").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn ice_servers_from_flags() {
        let args = parse(&["--ice-server", "stun:a:1,turn:b:2", "--ice-server", "turns:c:3"]).unwrap();
        let servers = ice_servers(&args.ice_servers, Some("u".into()), Some("p".into()));
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0], IceServer { urls: vec!["stun:a:1".into()], username: None, credential: None });
        assert_eq!(servers[1].urls, ["turn:b:2", "turns:c:3"]);
        assert_eq!((servers[1].username.as_deref(), servers[1].credential.as_deref()), (Some("u"), Some("p")));

        let none = parse(&["--ice-server", ""]).unwrap();
        assert!(ice_servers(&none.ice_servers, None, None).is_empty());
        assert!(parse(&["--ice-server", "http://x"]).is_err());
    }

    #[test]
    fn relay_only_needs_a_turn_server() {
        let stun = ice_servers(&["stun:a:1".into()], None, None);
        assert!(relay_only(true, &stun, None).is_err(), "STUN relays nothing");
        assert!(!relay_only(false, &stun, None).unwrap());
        let fixed = ice_servers(&["turn:b:2".into()], Some("u".into()), Some("p".into()));
        assert!(relay_only(true, &fixed, None).unwrap());
        let rest = turn_rest(Some("s".into()), &["turns:c:3".into()], 60).unwrap();
        assert!(relay_only(true, &stun, rest.as_ref()).unwrap());
        assert!(parse(&["--relay-only"]).unwrap().relay_only);
    }

    #[test]
    fn room_capacity_is_fifty_with_the_sfu_and_six_without() {
        // Read from the definition, not a parse: MOIM_ROOM_CAPACITY may be set here.
        let command = Args::command();
        let arg = command.get_arguments().find(|a| a.get_id() == "room_capacity").unwrap();
        assert_eq!(arg.get_env().and_then(|v| v.to_str()), Some("MOIM_ROOM_CAPACITY"));
        assert_eq!(room_capacity(None, 4), 50);
        assert_eq!(room_capacity(None, 0), 6);
        assert_eq!(room_capacity(Some(8), 0), 8);
    }

    #[test]
    fn a_node_id_is_short_and_plain() {
        assert_eq!(parse(&["--node-id", "eu-1_b"]).unwrap().node_id.as_deref(), Some("eu-1_b"));
        for bad in ["", "a b", "n1.x", "노드", "moim:node:x", &"x".repeat(33)] {
            assert!(parse(&["--node-id", bad]).is_err(), "{bad:?} accepted");
        }
        assert!(parse(&["--drain-secs", "0"]).is_err());
    }

    #[test]
    fn sfu_from_is_off_or_at_least_two() {
        assert_eq!(parse(&["--sfu-from", "0"]).unwrap().sfu_from, 0);
        assert_eq!(parse(&["--sfu-from", "2"]).unwrap().sfu_from, 2);
        assert!(parse(&["--sfu-from", "1"]).is_err());
        assert!(parse(&["--sfu-from", "x"]).is_err());
    }

    #[test]
    fn heartbeat_timeout_is_in_seconds_and_not_zero() {
        let command = Args::command();
        let arg = command.get_arguments().find(|a| a.get_id() == "heartbeat_timeout").unwrap();
        assert_eq!(arg.get_default_values(), ["15"]);
        assert_eq!(arg.get_env().and_then(|v| v.to_str()), Some("MOIM_HEARTBEAT_TIMEOUT"));
        assert!(parse(&["--heartbeat-timeout", "0"]).is_err());
        assert_eq!(parse(&["--heartbeat-timeout", "5"]).unwrap().heartbeat_timeout, 5);
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
        assert_eq!(origins, ["https://meet.example.org", "http://10.0.0.5:8080", "https://other.example"]);
        let empty = parse(&["--allowed-origin", ""]).unwrap();
        assert!(allowed_origins(&empty.allowed_origins).unwrap().is_empty());
        assert!(parse(&["--allowed-origin", "meet.example.org"]).is_err());
        assert!(parse(&["--allowed-origin", "https://meet.example.org/room"]).is_err());
    }

    #[test]
    fn public_hosts_from_flags() {
        let args =
            parse(&["--public-host", "Moim.Example.org,meet.example.org:8443", "--public-host", "10.0.0.5"]).unwrap();
        let hosts: Vec<String> = public_hosts(&args.public_hosts).unwrap().iter().map(PublicHost::as_string).collect();
        assert_eq!(hosts, ["moim.example.org", "meet.example.org:8443", "10.0.0.5"]);
        let empty = parse(&["--public-host", ""]).unwrap();
        assert!(public_hosts(&empty.public_hosts).unwrap().is_empty());
        assert!(parse(&["--public-host", "https://moim.example.org"]).is_err());
        assert!(parse(&["--public-host", "moim.example.org/r"]).is_err());
        assert_eq!(env("public_hosts").as_deref(), Some("MOIM_PUBLIC_HOSTS"));
    }

    #[test]
    fn connections_per_ip_default_to_fifty_and_zero_lifts_the_limit() {
        let command = Args::command();
        let arg = command.get_arguments().find(|a| a.get_id() == "max_connections_per_ip").unwrap();
        assert_eq!(arg.get_default_values(), ["50"]);
        assert_eq!(arg.get_env().and_then(|v| v.to_str()), Some("MOIM_MAX_CONNECTIONS_PER_IP"));
        let args = parse(&["--max-connections-per-ip", "0"]).unwrap();
        assert_eq!(args.max_connections_per_ip, 0);
        assert!(parse(&["--max-connections-per-ip", "-1"]).is_err());
    }

    #[test]
    fn room_capacity_is_at_least_two() {
        assert!(parse(&["--room-capacity", "1"]).is_err());
        assert_eq!(parse(&["--room-capacity", "4"]).unwrap().room_capacity, Some(4));
    }

    #[test]
    fn message_rate_is_positive_and_defaults_to_the_limits() {
        assert!(parse(&["--message-rate", "0"]).is_err());
        assert!(parse(&["--message-burst", "0"]).is_err());
        let args = parse(&["--message-rate", "5000", "--message-burst", "9000"]).unwrap();
        assert_eq!((args.message_rate, args.message_burst), (5000, 9000));
        let command = Args::command();
        let default = |id: &str| {
            let arg = command.get_arguments().find(|a| a.get_id() == id).unwrap();
            arg.get_default_values()[0].to_str().unwrap().parse::<u32>().unwrap()
        };
        let rate = MessageRate::default();
        assert_eq!((default("message_rate"), default("message_burst")), (rate.per_second, rate.burst));
    }

    fn arg(id: &str) -> clap::Arg {
        Args::command().get_arguments().find(|a| a.get_id() == id).unwrap().clone()
    }

    fn env(id: &str) -> Option<String> {
        arg(id).get_env().and_then(|v| v.to_str()).map(str::to_owned)
    }

    #[test]
    fn turn_secret_and_urls_make_expiring_credentials() {
        let args = parse(&[
            "--turn-secret",
            "s3cret",
            "--turn-url",
            "turn:a.example:3478,turns:b.example:5349",
            "--turn-ttl",
            "600",
        ])
        .unwrap();
        let turn = turn_rest(args.turn_secret, &args.turn_urls, args.turn_ttl).unwrap().unwrap();
        assert_eq!(turn.urls, ["turn:a.example:3478", "turns:b.example:5349"]);
        assert_eq!(turn.secret, "s3cret");
        assert_eq!(turn.ttl, Duration::from_secs(600));
        assert!(parse(&["--turn-url", "stun:a.example:3478"]).is_err());
        assert!(parse(&["--turn-ttl", "0"]).is_err());
    }

    #[test]
    fn turn_secret_and_urls_need_each_other() {
        let url = ["turn:a.example:3478".to_owned()];
        assert!(matches!(turn_rest(Some("s".into()), &[], 60), Err(TurnPairError::SecretWithoutUrl)));
        assert!(matches!(turn_rest(None, &url, 60), Err(TurnPairError::UrlWithoutSecret)));
        // Empty environment variables mean "not set".
        assert!(turn_rest(Some(String::new()), &[String::new()], 60).unwrap().is_none());
    }

    #[test]
    fn turn_flags_read_the_environment_and_hide_the_secret() {
        assert_eq!(env("turn_secret").as_deref(), Some("MOIM_TURN_SECRET"));
        assert!(arg("turn_secret").is_hide_env_values_set());
        assert_eq!(env("turn_urls").as_deref(), Some("MOIM_TURN_URLS"));
        assert_eq!(env("turn_ttl").as_deref(), Some("MOIM_TURN_TTL"));
        assert_eq!(arg("turn_ttl").get_default_values(), ["86400"]);
    }

    #[test]
    fn tls_flags() {
        let args = parse(&["--tls", "--no-qr"]).unwrap();
        assert!(args.tls && args.no_qr);
        let given = parse(&["--tls", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert_eq!(given.tls_cert.as_deref(), Some(Path::new("c.pem")));
        assert_eq!(given.tls_key.as_deref(), Some(Path::new("k.pem")));
        // A certificate needs its key, and both need --tls.
        assert!(parse(&["--tls", "--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["--tls", "--tls-key", "k.pem"]).is_err());
        assert!(parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).is_err());
        // --tls-dir is where a self-signed one goes; not with a given one.
        let dir = parse(&["--tls", "--tls-dir", "/tmp/t"]).unwrap();
        assert_eq!(dir.tls_dir.as_deref(), Some(Path::new("/tmp/t")));
        assert!(parse(&["--tls", "--tls-dir", "/tmp/t", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).is_err());
        for (id, var) in [
            ("tls", "MOIM_TLS"),
            ("tls_cert", "MOIM_TLS_CERT"),
            ("tls_key", "MOIM_TLS_KEY"),
            ("tls_dir", "MOIM_TLS_DIR"),
            ("no_qr", "MOIM_NO_QR"),
        ] {
            assert_eq!(env(id).as_deref(), Some(var));
        }
    }

    #[test]
    fn room_passwords_from_flags() {
        let args = parse(&["--room-password", "board=quarterly,모임=비밀 번호", "--room-password", "x=a=b"]).unwrap();
        let got: Vec<(&str, &str)> = args.room_passwords.iter().map(|(r, p)| (r.as_str(), p.as_str())).collect();
        assert_eq!(got, [("board", "quarterly"), ("모임", "비밀 번호"), ("x", "a=b")]);
        assert!(parse(&["--room-password", "board"]).is_err(), "no password");
        assert!(parse(&["--room-password", "board="]).is_err(), "empty password");
        assert!(parse(&["--room-password", "a/b=x"]).is_err(), "bad room name");
        let long = format!("r={}", "x".repeat(65));
        assert!(parse(&["--room-password", &long]).is_err());
    }

    /// The README's flag table lists every flag `--help` shows, with its
    /// environment variable, so neither drifts from the other.
    #[test]
    fn every_flag_is_in_the_readme() {
        let readme = include_str!("../../README.md");
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `--")).collect();
        for arg in Args::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let flag = format!("`--{long}`");
            let row = rows.iter().find(|r| r.contains(&flag));
            let row = row.unwrap_or_else(|| panic!("README's flag table has no row for {flag}"));
            if let Some(env) = arg.get_env().and_then(|e| e.to_str()) {
                assert!(row.contains(&format!("`{env}`")), "README's row for {flag} misses `{env}`");
            }
        }
    }
}
