//! What the page tells the media server of how it draws each member's
//! video (`ClientMsg::SfuView`): the server sends the simulcast layer each
//! tile needs, and nothing for a video not on screen (a camera turned off,
//! a tile scrolled away, a page in a background tab). Read from the
//! layout a few times a second; sent when it changes.

use super::Inner;
use leptos::prelude::GetUntracked;
use shared::{ClientMsg, PeerId, TrackSource, VideoView};
use std::rc::Rc;
use web_sys::{Document, Window};

/// How often the layout is read: a tile enlarged is asked for at its new
/// size within this (then its layer waits for a keyframe).
pub(super) const VIEW_CHECK_MS: u32 = 250;

impl Inner {
    /// Tells the server how each video is drawn, when that changed.
    pub(super) fn send_views(self: &Rc<Self>) {
        // (While the socket is down a view would not be sent, nor remembered as sent.)
        if !self.socket.borrow().as_ref().is_some_and(|socket| socket.is_open()) {
            return;
        }
        let views = self.views();
        if *self.sfu_views.borrow() != views {
            self.send(&ClientMsg::SfuView { views: views.clone() });
            *self.sfu_views.borrow_mut() = views;
        }
    }

    /// Sent again at the next reading: the server's session may be new.
    pub(super) fn forget_views(&self) {
        self.sfu_views.borrow_mut().clear();
    }

    fn views(&self) -> Vec<VideoView> {
        let Some(window) = web_sys::window() else { return vec![] };
        let Some(document) = window.document() else { return vec![] };
        let mut views = vec![];
        for tile in self.view.tiles.get_untracked() {
            // The tile shows their screen while they share, else their camera (if on).
            let sharing = tile.sharing.get_untracked();
            let shown = if sharing { TrackSource::Screen } else { TrackSource::Camera };
            let size = if sharing || !tile.camera_off.get_untracked() {
                // Not in the page yet (it is drawn once our answer is out): not
                // hidden, so unsaid, and the server sends its best until told.
                let Some(size) = drawn_size(&window, &document, tile.peer) else { continue };
                size
            } else {
                (0, 0)
            };
            for source in [TrackSource::Camera, TrackSource::Screen] {
                let (width, height) = if source == shown { size } else { (0, 0) };
                views.push(VideoView { peer: tile.peer, source, width, height });
            }
        }
        views
    }
}

/// The device pixels `peer`'s video is drawn at (0 × 0 off screen); None
/// before its tile is in the page.
fn drawn_size(window: &Window, document: &Document, peer: PeerId) -> Option<(u16, u16)> {
    let video = document.query_selector(&format!(".tile.remote[data-peer=\"{peer}\"] video")).ok()??;
    let screen = document.document_element()?;
    let rect = video.get_bounding_client_rect();
    let (left, top, right, bottom) = (rect.left(), rect.top(), rect.right(), rect.bottom());
    let on_screen = !document.hidden()
        && right > left.max(0.0)
        && bottom > top.max(0.0)
        && left < f64::from(screen.client_width())
        && top < f64::from(screen.client_height());
    let ratio = window.device_pixel_ratio();
    // `as` saturates; `round` and `clamp` would bring in a libm function and a panic path.
    let px = |css: f64| (css * ratio + 0.5) as u16;
    Some(if on_screen { (px(right - left), px(bottom - top)) } else { (0, 0) })
}
