//! Janus 1.1 (Debian's `janus` package) as a child process, with a config
//! folder of our own: the core, the videoroom plugin with one room, and the
//! HTTP transport on 127.0.0.1; every other plugin and transport disabled;
//! no STUN/TURN; ICE on loopback.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/janus";
/// Where Debian puts the plugins, transports, event handlers and loggers.
const LIB: &str = "/usr/lib/x86_64-linux-gnu/janus";
/// The one room, made by the config file.
pub const ROOM: u64 = 1234;

pub struct Janus {
    child: Child,
    pub pid: u32,
    pub port: u16,
    /// Where its media is: the bot's peers bind here too.
    pub media_ip: Ipv4Addr,
}

/// `janus --version`'s first line, e.g. "Janus version: 1102 (1.1.2)".
pub fn version() -> Option<String> {
    let out = Command::new(BINARY).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().next().map(|l| l.trim_start_matches("Janus version: ").to_owned())
}

/// The first interface that is up, not loopback, with an IPv4 address:
/// its name and address. Janus's ICE (libnice) never gathers loopback
/// candidates, so its media runs on this address instead, which the kernel
/// delivers through the loopback device all the same (nothing leaves the
/// machine).
pub fn host_interface() -> Result<(String, Ipv4Addr), String> {
    let mut found = None;
    // SAFETY: getifaddrs fills a list we only read and then free once; each
    // ifa_addr is checked for null and for AF_INET before it is cast.
    unsafe {
        let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut list) != 0 {
            return Err("getifaddrs failed".into());
        }
        let mut next = list;
        while !next.is_null() {
            let ifa = &*next;
            next = ifa.ifa_next;
            let flags = ifa.ifa_flags as libc::c_int;
            if ifa.ifa_addr.is_null()
                || i32::from((*ifa.ifa_addr).sa_family) != libc::AF_INET
                || flags & libc::IFF_UP == 0
                || flags & libc::IFF_LOOPBACK != 0
            {
                continue;
            }
            let addr = &*(ifa.ifa_addr as *const libc::sockaddr_in);
            let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
            let name = std::ffi::CStr::from_ptr(ifa.ifa_name).to_string_lossy().into_owned();
            found = Some((name, ip));
            break;
        }
        libc::freeifaddrs(list);
    }
    found.ok_or_else(|| "no network interface but loopback: Janus gathers no ICE candidate on loopback".into())
}

/// A TCP port free on 127.0.0.1 now (bound, read and released).
pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Everything in `LIB/<kind>` but `keep`, as a `disable` list.
fn all_but(kind: &str, keep: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(LIB).join(kind))
        .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| n.ends_with(".so") && n != keep);
    names.sort();
    names.join(",")
}

/// Writes janus.jcfg, janus.plugin.videoroom.jcfg and
/// janus.transport.http.jcfg into `dir`.
fn write_config(dir: &Path, http_port: u16, publishers: usize, interface: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let core = format!(
        r#"general: {{
	configs_folder = "{dir}"
	plugins_folder = "{LIB}/plugins"
	transports_folder = "{LIB}/transports"
	events_folder = "{LIB}/events"
	loggers_folder = "{LIB}/loggers"
	debug_level = 4
	# The bench's one session lives as long as the point it measures.
	session_timeout = 0
	server_name = "moim-bench"
}}
media: {{
	rtp_port_range = "40000-59999"
}}
nat: {{
	# No STUN/TURN: host candidates on one interface of this machine (libnice
	# gathers none on loopback), IPv4 only.
	ice_enforce_list = "{interface}"
	ignore_mdns = true
}}
plugins: {{
	disable = "{plugins}"
}}
transports: {{
	disable = "{transports}"
}}
loggers: {{
	disable = "{loggers}"
}}
events: {{
	broadcast = false
}}
"#,
        dir = dir.display(),
        plugins = all_but("plugins", "libjanus_videoroom.so"),
        transports = all_but("transports", "libjanus_http.so"),
        loggers = all_but("loggers", ""),
    );
    let http = format!(
        r#"general: {{
	json = "compact"
	base_path = "/janus"
	http = true
	port = {http_port}
	ip = "127.0.0.1"
	https = false
}}
admin: {{
	admin_http = false
	admin_https = false
}}
"#
    );
    // bitrate 0: no cap (REMB) on publishers; fir_freq 0: Janus itself
    // asks for no keyframes (the bot sends one every few seconds).
    let videoroom = format!(
        r#"general: {{
}}
room-{ROOM}: {{
	description = "moim bench"
	publishers = {publishers}
	bitrate = 0
	fir_freq = 0
	audiocodec = "opus"
	videocodec = "vp8"
	record = false
}}
"#,
        publishers = publishers.max(1)
    );
    for (name, text) in
        [("janus.jcfg", &core), ("janus.transport.http.jcfg", &http), ("janus.plugin.videoroom.jcfg", &videoroom)]
    {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(dir.join("janus.jcfg"))
}

impl Janus {
    /// Starts Janus with its config in `dir` (its log goes there too) and
    /// waits until its HTTP API answers.
    /// `pin`: on the servers' core ([`crate::pin`]).
    pub fn start(dir: &Path, publishers: usize, pin: bool) -> Result<Janus, String> {
        let port = free_port()?;
        let (interface, media_ip) = host_interface()?;
        let config = write_config(dir, port, publishers, &interface)?;
        let log = std::fs::File::create(dir.join("janus.log")).map_err(|e| format!("janus.log: {e}"))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(BINARY);
        if pin {
            crate::pin::server(&mut command);
        }
        let child = command
            .arg("-C")
            .arg(&config)
            .arg("-F")
            .arg(dir)
            .arg("--disable-colors")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("could not start {BINARY} (install it: cargo xtask setup --janus): {e}"))?;
        let mut janus = Janus { pid: child.id(), child, port, media_ip };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(janus.child.try_wait(), Ok(Some(_))) {
                return Err(format!("janus exited at start; see {}", dir.join("janus.log").display()));
            }
            if crate::janus_api::get(port, "/janus/info").is_ok() {
                return Ok(janus);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        janus.stop();
        Err(format!("janus did not answer within 30 s; see {}", dir.join("janus.log").display()))
    }

    /// SIGTERM, then SIGKILL if it has not exited within five seconds.
    pub fn stop(&mut self) {
        crate::procfs::terminate(&mut self.child, self.pid);
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}
