//! `GET /metrics`: what the server is doing, in Prometheus' text format. A
//! dozen lines of text are not worth a dependency, so they are written here.
//! Counters are atomics anyone may bump; the room and member counts are asked
//! of the hub, so they are never out of step with the rooms themselves.

use crate::close::{End, Refused};
use crate::hub::Counts;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::{ErrorCode, ServerMsg};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use strum::{EnumCount, IntoEnumIterator};

/// Prometheus' text exposition format, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Default)]
pub struct Metrics {
    connections_open: AtomicU64,
    relayed: AtomicU64,
    resumed: AtomicU64,
    // Indexed by each enum's declaration order (`as usize`); sized and
    // listed by strum, so every variant has a counter, even at 0.
    errors: [AtomicU64; ErrorCode::COUNT],
    refused: [AtomicU64; Refused::COUNT],
    closed: [AtomicU64; End::COUNT],
}

/// Counts one open connection until dropped, whichever way it ends.
#[derive(Debug)]
pub struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    pub fn connection_closed(&self, end: End) {
        self.closed[end as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, why: Refused) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a message as it is written to its client: an error by code,
    /// or a relay from another member (one per recipient).
    pub fn sent(&self, msg: &ServerMsg) {
        let counter = match msg {
            ServerMsg::Error { code, .. } => &self.errors[*code as usize],
            ServerMsg::Offer { .. }
            | ServerMsg::Answer { .. }
            | ServerMsg::Ice { .. }
            | ServerMsg::MediaState { .. }
            | ServerMsg::Chat { .. } => &self.relayed,
            ServerMsg::Resumed { .. } => &self.resumed,
            ServerMsg::Welcome { .. }
            | ServerMsg::PeerJoined { .. }
            | ServerMsg::PeerLeft { .. }
            | ServerMsg::Pong
            | ServerMsg::UseSfu
            | ServerMsg::SfuAnswer { .. }
            | ServerMsg::SfuOffer { .. }
            | ServerMsg::Speaking { .. }
            | ServerMsg::SfuPaused { .. } => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, counts: Counts) -> String {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let mut out = Text::default();
        out.family("moim_connections_open", "gauge", "WebSocket connections open now, in a room or not.");
        out.sample("moim_connections_open", None, load(&self.connections_open));
        out.family("moim_rooms", "gauge", "Rooms with at least one member.");
        out.sample("moim_rooms", None, counts.rooms as u64);
        out.family("moim_members", "gauge", "Members of all rooms together.");
        out.sample("moim_members", None, counts.members as u64);
        out.family(
            "moim_messages_relayed_total",
            "counter",
            "Offers, answers, ICE candidates and media states passed from one member to another, one per recipient.",
        );
        out.sample("moim_messages_relayed_total", None, load(&self.relayed));
        out.family(
            "moim_resumes_total",
            "counter",
            "Members who took their seat back on a new connection after theirs dropped.",
        );
        out.sample("moim_resumes_total", None, load(&self.resumed));
        out.family("moim_errors_total", "counter", "Error messages sent to clients, by code.");
        for (code, n) in ErrorCode::iter().zip(&self.errors) {
            out.sample("moim_errors_total", Some(("code", code.as_str())), load(n));
        }
        out.family("moim_connections_refused_total", "counter", "WebSocket upgrades refused, by reason.");
        for (why, n) in Refused::iter().zip(&self.refused) {
            let label = Some(("reason", why.into()));
            out.sample("moim_connections_refused_total", label, load(n));
        }
        out.family("moim_connections_closed_total", "counter", "WebSocket connections ended, by reason.");
        for (end, n) in End::iter().zip(&self.closed) {
            let label = Some(("reason", end.into()));
            out.sample("moim_connections_closed_total", label, load(n));
        }
        out.0
    }
}

/// The exposition format; labels here are fixed identifiers, so nothing
/// needs escaping.
#[derive(Default)]
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, label: Option<(&str, &str)>, value: u64) {
        let _ = match label {
            Some((key, label)) => writeln!(self.0, "{name}{{{key}=\"{label}\"}} {value}"),
            None => writeln!(self.0, "{name} {value}"),
        };
    }
}

pub async fn scrape(State(state): State<AppState>) -> Response {
    let Ok(counts) = state.hub.counts().await else {
        tracing::error!("metrics asked of a stopped hub");
        return (StatusCode::SERVICE_UNAVAILABLE, "the hub has stopped").into_response();
    };
    let headers = [(header::CONTENT_TYPE, CONTENT_TYPE), (header::CACHE_CONTROL, "no-store")];
    let mut text = state.metrics.render(counts);
    if let Some(sfu) = &state.sfu {
        text.push_str(&render_sfu(sfu.metrics()));
    }
    if let Some(cluster) = &state.cluster {
        text.push_str(&render_cluster(&cluster.metrics));
    }
    (headers, text).into_response()
}

/// What crossed between nodes, when in a cluster.
fn render_cluster(metrics: &crate::cluster::ClusterMetrics) -> String {
    let mut out = Text::default();
    for (name, help, counter) in [
        ("moim_cluster_sent_total", "Messages published to other nodes.", &metrics.sent),
        ("moim_cluster_received_total", "Messages received from other nodes.", &metrics.received),
        ("moim_cluster_repeats_total", "Messages from other nodes seen before, dropped.", &metrics.repeats),
        ("moim_cluster_lost_total", "Messages from other nodes that never came (Redis was away).", &metrics.lost),
        ("moim_cluster_unsent_total", "Messages that could not be published to other nodes.", &metrics.unsent),
    ] {
        out.family(name, "counter", help);
        out.sample(name, None, counter.load(Ordering::Relaxed));
    }
    out.0
}

/// The media server's counters, when it runs.
fn render_sfu(snapshot: sfu::MetricsSnapshot) -> String {
    let mut out = Text::default();
    for (name, help, counter, value) in snapshot.entries() {
        out.family(name, if counter { "counter" } else { "gauge" }, help);
        out.sample(name, None, value);
    }
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_follow_declaration_order() {
        for (slot, code) in ErrorCode::iter().enumerate() {
            assert_eq!(code as usize, slot, "{code:?}");
        }
        for (slot, end) in End::iter().enumerate() {
            assert_eq!(end as usize, slot, "{end:?}");
        }
        for (slot, why) in Refused::iter().enumerate() {
            assert_eq!(why as usize, slot, "{why:?}");
        }
    }

    #[test]
    fn renders_every_family_with_help_and_type() {
        let metrics = Arc::new(Metrics::default());
        let open = metrics.connection_opened();
        metrics.sent(&ServerMsg::error(ErrorCode::RoomFull, "full"));
        metrics.connection_closed(End::Silent);
        let text = metrics.render(Counts { rooms: 2, members: 5 });
        drop(open);
        for line in [
            "# TYPE moim_connections_open gauge",
            "moim_connections_open 1",
            "moim_rooms 2",
            "moim_members 5",
            "moim_messages_relayed_total 0",
            "moim_errors_total{code=\"room_full\"} 1",
            "moim_errors_total{code=\"not_json\"} 0",
            "moim_connections_closed_total{reason=\"heartbeat_timeout\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        assert_eq!(metrics.connections_open.load(Ordering::Relaxed), 0);
    }
}
