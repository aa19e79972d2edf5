//! [`ClientMsg::encode`] by hand, so the browser prints its messages without
//! serde_json (see [`crate::json`]). The output is byte for byte what
//! `serde_json::to_string` prints for the derived `Serialize`, which the
//! backend reads; a property test (backend/tests/properties.rs) holds them
//! equal.

use crate::json::ObjectWriter;
use crate::protocol::{ClientMsg, IceCandidate, VideoView};

impl ClientMsg {
    /// By hand: what `serde_json::to_string` prints.
    pub fn encode(&self) -> String {
        client_msg(self)
    }
}

fn client_msg(msg: &ClientMsg) -> String {
    match msg {
        ClientMsg::Join { version, room, name, password } => {
            let join =
                ObjectWriter::tagged("join").uint("version", (*version).into()).str("room", room).str("name", name);
            match password {
                Some(password) => join.str("password", password),
                None => join,
            }
        }
        ClientMsg::Resume { version, token } => {
            ObjectWriter::tagged("resume").uint("version", (*version).into()).str("token", token)
        }
        ClientMsg::Offer { to, sdp } => ObjectWriter::tagged("offer").uint("to", to.0).str("sdp", sdp),
        ClientMsg::Answer { to, sdp } => ObjectWriter::tagged("answer").uint("to", to.0).str("sdp", sdp),
        ClientMsg::Ice { to, candidate } => {
            ObjectWriter::tagged("ice").uint("to", to.0).raw("candidate", &ice_candidate(candidate))
        }
        ClientMsg::MediaState(state) => ObjectWriter::tagged("media_state")
            .bool("muted", state.muted)
            .bool("camera_off", state.camera_off)
            .bool("sharing", state.sharing),
        ClientMsg::Leave => ObjectWriter::tagged("leave"),
        ClientMsg::Ping => ObjectWriter::tagged("ping"),
        ClientMsg::SfuOffer { sdp } => ObjectWriter::tagged("sfu_offer").str("sdp", sdp),
        ClientMsg::SfuAnswer { sdp } => ObjectWriter::tagged("sfu_answer").str("sdp", sdp),
        ClientMsg::SfuView { views } => ObjectWriter::tagged("sfu_view").raw("views", &video_views(views)),
        ClientMsg::Chat { text } => ObjectWriter::tagged("chat").str("text", text),
    }
    .finish()
}

fn video_views(views: &[VideoView]) -> String {
    let mut out = String::from("[");
    for view in views {
        if out.len() > 1 {
            out.push(',');
        }
        let source: &str = view.source.into();
        let object = ObjectWriter::new()
            .uint("peer", view.peer.0)
            .str("source", source)
            .uint("width", view.width.into())
            .uint("height", view.height.into());
        out.push_str(&object.finish());
    }
    out.push(']');
    out
}

fn ice_candidate(candidate: &IceCandidate) -> String {
    ObjectWriter::new()
        .str("candidate", &candidate.candidate)
        .opt_str("sdpMid", candidate.sdp_mid.as_deref())
        .opt_uint("sdpMLineIndex", candidate.sdp_m_line_index.map(u64::from))
        .finish()
}
