//! `backend`: runs Moim's server. Every flag also reads an environment
//! variable, so containers and `.env` files need no wrapper script.

use backend::static_files::WebApp;
use backend::tls::{self, SelfSigned, TlsError};
use backend::{MessageRate, OriginError, PublicHostError};
use clap::Parser;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

mod args;

use args::{allowed_origins, ice_servers, public_hosts, turn_rest, Args, TurnPairError};

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Origin(#[from] OriginError),
    #[error(transparent)]
    PublicHost(#[from] PublicHostError),
    #[error(transparent)]
    Turn(#[from] TurnPairError),
    #[error(transparent)]
    Relay(#[from] args::RelayWithoutTurn),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    backend::raise_open_files_limit();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let ice_servers = ice_servers(&args.ice_servers, args.turn_username.clone(), args.turn_credential.clone());
    let mut config = backend::Config {
        ice_servers,
        room_capacity: args::room_capacity(args.room_capacity, args.sfu_from),
        web_app: WebApp::choose(args.dist.clone()),
        turn: turn_rest(args.turn_secret.clone(), &args.turn_urls, args.turn_ttl)?,
        room_passwords: args.room_passwords.clone(),
        relay_only: false,
        sfu: None,
        cluster: args.redis.clone().map(|redis_url| backend::cluster::ClusterConfig {
            redis_url,
            node_id: args.node_id.clone().unwrap_or_else(backend::cluster::ClusterConfig::random_node_id),
        }),
    };
    config.relay_only = args::relay_only(args.relay_only, &config.ice_servers, config.turn.as_ref())?;
    let limits = backend::Limits {
        heartbeat_timeout: Duration::from_secs(args.heartbeat_timeout),
        allowed_origins: allowed_origins(&args.allowed_origins)?,
        max_connections_per_ip: args.max_connections_per_ip,
        message_rate: MessageRate { per_second: args.message_rate, burst: args.message_burst },
        public_hosts: public_hosts(&args.public_hosts)?,
        hsts: args.tls,
        drain: Duration::from_secs(args.drain_secs),
        ..backend::Limits::default()
    };
    match &config.web_app {
        app if !app.is_built() => tracing::warn!(?app, "the web app is not built: pages answer 503 until it is"),
        WebApp::Folder(dist) => tracing::info!(dist = %dist.display(), "serving the web app from a folder"),
        WebApp::Embedded => tracing::info!("serving the web app built into this binary"),
    }
    // Not `?config`: it holds the TURN credential.
    let ice_urls: Vec<&str> = config.ice_servers.iter().flat_map(|s| &s.urls).map(String::as_str).collect();
    // `TurnRest`'s Debug leaves the secret out.
    tracing::info!(
        room_capacity = config.room_capacity,
        ?ice_urls,
        turn = ?config.turn,
        relay_only = config.relay_only,
        node = config.cluster.as_ref().map(|c| c.node_id.as_str()),
        ?limits,
        tls = args.tls,
        "starting"
    );

    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
    let port = listener.local_addr().map_or(args.port, |a| a.port());
    // Other devices reach it on these only if it listens on every address.
    let lan = if args.bind.is_unspecified() { backend::lan::ipv4_addresses() } else { Vec::new() };
    config.sfu = sfu_settings(&args, port, &lan);
    let tls = if args.tls { Some(tls_config(&args, &lan)?) } else { None };
    let scheme = if args.tls { "https" } else { "http" };
    let note = if !args.tls {
        "Phones need --tls: browsers allow the camera only on https pages or localhost."
    } else if args.tls_cert.is_none() {
        "Each browser warns about the self-signed certificate once: accept it to go on."
    } else {
        ""
    };
    print_urls(&urls(scheme, args.bind, port, &lan), note, !args.no_qr);

    let shutdown = backend::shutdown_signal();
    match tls {
        None => backend::serve_with(listener, config, limits, shutdown).await,
        Some(tls) => backend::serve_tls_with(listener, config, limits, tls, shutdown).await,
    }
    .map_err(Error::Serve)
}

/// Where the SFU listens: the given addresses, else loopback and the LAN's
/// (or the one bound to); on --media-port, else the web's port number.
fn sfu_settings(args: &Args, port: u16, lan: &[Ipv4Addr]) -> Option<backend::SfuSettings> {
    if args.sfu_from == 0 {
        return None;
    }
    let mut addresses: Vec<IpAddr> = args.media_addresses.iter().copied().map(IpAddr::V4).collect();
    if addresses.is_empty() {
        addresses.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        addresses.extend(lan.iter().copied().map(IpAddr::V4));
        if let IpAddr::V4(bound) = args.bind {
            if !bound.is_unspecified() && !bound.is_loopback() {
                addresses.push(args.bind);
            }
        }
    }
    let media = sfu::Config {
        port: args.media_port.unwrap_or(port),
        addresses,
        public_ip: args.public_ip.map(IpAddr::V4),
        max_member_kbps: args.max_member_kbps,
        bandwidth_estimation: args.bandwidth_estimation,
    };
    tracing::info!(from = args.sfu_from, port = media.port, addresses = ?media.addresses, "rooms move to the SFU as they grow");
    Some(backend::SfuSettings { from: args.sfu_from, media })
}

fn tls_config(args: &Args, lan: &[Ipv4Addr]) -> Result<Arc<rustls::ServerConfig>, Error> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let identity = tls::load(cert, key)?;
        tracing::info!(cert = %cert.display(), "serving HTTPS with the given certificate");
        return Ok(identity.server_config()?);
    }
    let mut ips: Vec<IpAddr> = lan.iter().copied().map(IpAddr::V4).collect();
    if !args.bind.is_unspecified() && !args.bind.is_loopback() {
        ips.push(args.bind);
    }
    let (identity, made, dir) = match &args.tls_dir {
        Some(dir) => self_signed_in(dir, &ips)?,
        None => match self_signed_in(&tls::default_dir(), &ips) {
            Err(Error::Tls(err @ TlsError::Write { .. })) => {
                tracing::warn!(%err, "trying ./.moim-tls instead");
                self_signed_in(Path::new(".moim-tls"), &ips)?
            }
            other => other?,
        },
    };
    let dir = dir.display();
    match made {
        SelfSigned::Generated => {
            tracing::info!(%dir, "made a self-signed certificate: each device warns about it once")
        }
        SelfSigned::Reused => tracing::info!(%dir, "reusing the self-signed certificate"),
    }
    Ok(identity.server_config()?)
}

fn self_signed_in(dir: &Path, ips: &[IpAddr]) -> Result<(tls::Identity, SelfSigned, PathBuf), Error> {
    let (identity, made) = tls::self_signed(dir, ips)?;
    Ok((identity, made, dir.to_owned()))
}

/// Where to open Moim: on this machine, and from other devices on the network.
#[derive(Debug, PartialEq, Eq)]
struct Urls {
    local: String,
    lan: Vec<String>,
}

fn urls(scheme: &str, bind: IpAddr, port: u16, lan: &[Ipv4Addr]) -> Urls {
    if bind.is_unspecified() || bind.is_loopback() {
        // localhost only reaches the server if it listens there too.
        Urls {
            local: format!("{scheme}://localhost:{port}"),
            lan: lan.iter().map(|ip| format!("{scheme}://{ip}:{port}")).collect(),
        }
    } else {
        let url = format!("{scheme}://{}", SocketAddr::new(bind, port));
        Urls { local: url.clone(), lan: vec![url] }
    }
}

fn print_urls(urls: &Urls, note: &str, qr: bool) {
    println!("Moim is running at {}", urls.local);
    let others: Vec<&String> = urls.lan.iter().filter(|u| **u != urls.local).collect();
    for (i, url) in others.iter().enumerate() {
        let label = if i == 0 { "On your network:" } else { "" };
        println!("{label:<19}{url}");
    }
    if let Some(first) = urls.lan.first().filter(|_| qr) {
        if let Some(code) = qr_code(first) {
            println!("{code}");
            println!("Scan it with a phone on the same Wi-Fi.");
        }
    }
    if !note.is_empty() {
        println!("{note}");
    }
}

/// `url` as a QR code of Unicode half blocks, light on a dark terminal.
fn qr_code(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_for_this_machine_and_the_network() {
        let lan = [Ipv4Addr::new(192, 168, 1, 20), Ipv4Addr::new(10, 0, 0, 7)];
        let any = urls("https", Ipv4Addr::UNSPECIFIED.into(), 8443, &lan);
        assert_eq!(any.local, "https://localhost:8443");
        assert_eq!(any.lan, ["https://192.168.1.20:8443", "https://10.0.0.7:8443"]);
        let local = urls("http", Ipv4Addr::LOCALHOST.into(), 8080, &[]);
        assert_eq!(local, Urls { local: "http://localhost:8080".into(), lan: vec![] });
        let one = urls("https", lan[0].into(), 8443, &[]);
        assert_eq!(one.local, "https://192.168.1.20:8443");
        assert_eq!(one.lan, ["https://192.168.1.20:8443"]);
        let v6 = urls("https", "fd00::5".parse().unwrap(), 8443, &[]);
        assert_eq!(v6.local, "https://[fd00::5]:8443");
    }

    #[test]
    fn qr_code_is_unicode_half_blocks() {
        let code = qr_code("https://192.168.1.20:8080").unwrap();
        let lines: Vec<&str> = code.lines().collect();
        // A version 2 code (25 modules) with its quiet zone, two rows a line.
        assert!(lines.len() >= 13, "{code}");
        assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
        assert!(code.chars().all(|c| " \n▀▄█".contains(c)), "{code}");
    }
}
