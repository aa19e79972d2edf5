//! What the client's machines ([`crate::call::Call`] and the SFU link in it)
//! ask the page to do. Kept below both, so neither has to import the other's
//! vocabulary.

use crate::ids::PeerId;
use crate::protocol::{ClientMsg, ErrorCode, IceCandidate};

/// What the machine asks the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(ClientMsg),
    /// Build an `RTCPeerConnection` for this member, with local tracks added.
    /// `offering`: a [`Effect::MakeOffer`] follows at once (we are new in the
    /// room), so a connection prepared with its offer already made fits.
    CreatePeer {
        peer: PeerId,
        polite: bool,
        offering: bool,
    },
    /// `createOffer`, then send it while `setLocalDescription` runs; [`crate::call::Input::OfferSent`] at the send.
    MakeOffer {
        peer: PeerId,
    },
    /// `setRemoteDescription(offer)` (rolling back our own offer if any),
    /// then answer: send it, report [`crate::call::Input::RemoteDescriptionApplied`], set it locally.
    AcceptOffer {
        peer: PeerId,
        sdp: String,
    },
    /// `setRemoteDescription(answer)`, then [`crate::call::Input::RemoteDescriptionApplied`].
    ApplyAnswer {
        peer: PeerId,
        sdp: String,
    },
    AddIce {
        peer: PeerId,
        candidate: IceCandidate,
    },
    ClosePeer {
        peer: PeerId,
    },
    /// The member list or someone's state changed: redraw.
    MembersChanged,
    /// The server refused something; show it.
    Failed {
        code: ErrorCode,
        message: String,
    },
    /// `restartIce()`, then as [`Effect::MakeOffer`]: the offer carries new
    /// ICE credentials, so both sides gather paths on the network they have now.
    RestartIce {
        peer: PeerId,
    },
    /// Send our pending offer (`localDescription`) again: the first copy
    /// may have died with the old socket.
    ResendOffer {
        peer: PeerId,
    },
    /// Feed [`crate::call::Input::CheckConnection`] after `after_ms`.
    CheckConnectionLater {
        peer: PeerId,
        after_ms: u32,
    },
    /// Our seat was gone: every connection was closed and we join afresh.
    Rejoining,
    /// About the connection to the media server ([`crate::sfu_link`]).
    Sfu(SfuAction),
    /// A member's chat line came through the server (a room on the SFU).
    Said {
        from: PeerId,
        text: String,
    },
}

/// What a [`SfuAction::Later`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SfuTimer {
    /// Is the `disconnected` SFU connection back? Else restart its ICE.
    CheckConnection,
    /// Close every direct connection still open ([`MESH_SAFETY_NET_MS`]).
    CloseMesh,
    /// Close the direct connection to a member already shown through the SFU ([`MESH_LINGER_MS`]).
    ClosePeer(PeerId),
}

/// What the SFU link asks the driver to do (inside [`Effect::Sfu`]).
#[derive(Debug, Clone, PartialEq)]
pub enum SfuAction {
    /// Build the connection to the SFU: transceivers for the microphone,
    /// the camera and the screen (sendonly, in that order; the screen's
    /// without a track until a share starts).
    Create,
    /// (`restartIce()` first if `ice_restart`,) `createOffer`, send it as
    /// [`crate::ClientMsg::SfuOffer`], then set it locally;
    /// [`SfuEvent::OfferSent`] at the send, [`SfuEvent::OfferFailed`] on failure.
    MakeOffer { ice_restart: bool },
    /// `setRemoteDescription(answer)`, then [`SfuEvent::AnswerApplied`].
    ApplyAnswer { sdp: String },
    /// `setRemoteDescription(offer)`, answer with [`crate::ClientMsg::SfuAnswer`],
    /// then [`SfuEvent::OfferAccepted`]. [`crate::sfu_link::SfuLink::tracks`]
    /// already says whose each of its m-lines is.
    AcceptOffer { sdp: String },
    /// Send our pending offer (`localDescription`) again: the first copy may
    /// have died with the old socket.
    ResendOffer,
    /// Close the SFU connection (leaving, or a new seat on a restarted server).
    Close,
    /// Feed [`SfuEvent::Timer`] after `after_ms`.
    Later { timer: SfuTimer, after_ms: u32 },
    /// Show what arrives through the SFU for `peer` in their tile, no longer
    /// what their direct connection brings (which closes a little later,
    /// with an [`Effect::ClosePeer`]).
    ShowMedia { peer: PeerId },
    /// Who speaks now, loudest first (the server hears every microphone).
    Speaking { peers: Vec<PeerId> },
    /// Whose video the server holds back now, for our bandwidth: their tiles say so.
    Paused { peers: Vec<PeerId> },
}
