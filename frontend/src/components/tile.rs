use super::StreamVideo;
use crate::i18n::{tr, use_texts, Texts};
use crate::meeting::RemoteTile;
use crate::session::Session;
use leptos::prelude::*;
use shared::link::{Details, Route, Transport};
use shared::spotlight::Spotlight;

/// One remote member: their video, name, and what they have turned off.
/// `spotlight` says whether it fills the main area (the room's grid handles
/// the clicks that change it). Off the grid's page shown it is hidden
/// (style.css), unless large.
#[component]
pub fn Tile(tile: RemoteTile, spotlight: RwSignal<Spotlight>) -> impl IntoView {
    let session = expect_context::<Session>();
    let RemoteTile { peer, name, muted, camera_off, sharing, stream, connection, speaking, link, weak, paused, .. } =
        tile;
    let t = use_texts();
    // Gone with its member (or with the room: then the signal is too, hence `try_`).
    on_cleanup(move || {
        spotlight.try_update(|s| *s = s.left(peer));
    });
    view! {
        <figure class="tile remote" data-peer=peer.to_string() class:large=move || spotlight.get().is_large(peer, sharing.get())
            class:off-page=move || !session.view.pages.with(|pages| pages.shows(peer))
            class:camera-off=move || camera_off.get() && !sharing.get() class:sharing=move || sharing.get() class:speaking=move || speaking.get() && !muted.get()>
            <StreamVideo stream=stream class="remote-video" speaker=session.speaker_id />
            <figcaption>
                // A button, so a keyboard can enlarge the tile too.
                // Shortened with an ellipsis when long: whole in the title, with what a click does.
                <button type="button" class="name" title=move || format!("{}: {}", name.get(), t().enlarge_title)>{move || name.get()}</button>
                <Show when=move || muted.get()><span class="badge muted" title=tr(|t| t.muted)>{tr(|t| t.muted)}</span></Show>
                <Show when=move || camera_off.get()><span class="badge camera-off" title=tr(|t| t.camera_off_badge)>{tr(|t| t.camera_off_badge)}</span></Show>
                <Show when=move || sharing.get()><span class="badge presenting" title=tr(|t| t.presenting)>{tr(|t| t.presenting)}</span></Show>
                <Show when=move || paused.get()>
                    <span class="badge paused" title=tr(|t| t.paused_video_title)>{tr(|t| t.paused_video)}</span>
                </Show>
                <Show when=move || weak.get()>
                    <span class="badge weak" title=tr(|t| t.weak_link_title)>{tr(|t| t.weak_link)}</span>
                </Show>
                {move || t().connection(connection.get())
                    .map(|state| view! { <span class="badge state" title=state>{state}</span> })}
            </figcaption>
            // In the corner, so a small tile's caption keeps its room for the name.
            <LinkDetails link=link weak=weak />
        </figure>
    }
}

/// The signal button; a click or tap shows the connection's details (read
/// every couple of seconds by the meeting) until the next one.
#[component]
fn LinkDetails(link: RwSignal<Option<Details>>, weak: RwSignal<bool>) -> impl IntoView {
    let open = RwSignal::new(false);
    let t = use_texts();
    view! {
        <button type="button" class="link" class:weak=move || weak.get() title=tr(|t| t.link_title)
            aria-label=tr(|t| t.link_title) aria-expanded=move || open.get().to_string()
            on:click=move |ev| {
                // Not a click on the tile: that would enlarge it.
                ev.stop_propagation();
                open.update(|o| *o = !*o);
            }>
            <span class="bars" aria-hidden="true"><i></i><i></i><i></i></span>
        </button>
        <Show when=move || open.get()>
            <div class="link-details" role="status" on:click=|ev| ev.stop_propagation()>
                {move || match link.get() {
                    None => vec![t().link_measuring.to_owned()],
                    Some(details) => lines(t(), &details),
                }
                .into_iter()
                .map(|line| view! { <p>{line}</p> })
                .collect_view()}
            </div>
        </Show>
    }
}

fn lines(t: &Texts, details: &Details) -> Vec<String> {
    let mut lines = Vec::new();
    if details.shared {
        lines.push(t.link_to_server.to_owned());
    }
    if let Some(path) = details.path {
        let route = match path.route {
            Route::Direct => t.route_direct,
            Route::Stun => t.route_stun,
            Route::Relayed => t.route_relayed,
        };
        let transport = match path.transport {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        };
        lines.push(format!("{route}, {}", (t.over)(transport)));
    }
    if let Some(rtt) = details.rtt_ms {
        lines.push((t.round_trip)(rtt));
    }
    lines.push((t.loss)(details.loss_percent));
    lines.push((t.rates)(&rate(details.kbps_in), &rate(details.kbps_out)));
    if let Some((width, height, fps)) = details.video {
        lines.push((t.video_size)(width, height, fps));
    }
    lines
}

/// "850 kbit/s", "1.2 Mbit/s".
fn rate(kbps: f64) -> String {
    if kbps < 1000.0 {
        format!("{} kbit/s", crate::i18n::whole(kbps))
    } else {
        format!("{} Mbit/s", crate::i18n::tenths(kbps / 1000.0))
    }
}
