//! The port a server printed when it started: "… running at
//! http://localhost:PORT", the digits after the last colon. Shared by the
//! relay bench and `sfu_bench` (which includes it by path).

pub fn printed_port(line: &str) -> Result<u16, String> {
    line.rsplit(':')
        .next()
        .map(|p| p.trim_start().chars().take_while(char::is_ascii_digit).collect::<String>())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no port in {line:?}"))
}
