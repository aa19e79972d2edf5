use super::{DevicePickers, LanguagePicker, MediaProblem, MediaToggles, SetupCheckLink, StreamVideo};
use crate::i18n::{tr, use_lang, use_texts};
use crate::meeting::Phase;
use crate::route;
use crate::session::Session;
use leptos::prelude::*;
use shared::{DisplayName, RoomName};

/// Name the room and yourself, check your camera, join.
#[component]
pub fn Welcome() -> impl IntoView {
    let session = expect_context::<Session>();
    let phase = session.view.phase;
    let (lang, t) = (use_lang(), use_texts());
    let room = RwSignal::new(route::current_room().unwrap_or_default());
    let name = RwSignal::new(route::remembered_name());
    // Not remembered: a password is for one room, and the link is shared.
    let password = RwSignal::new(String::new());
    // Validated with the same rules the server applies.
    let room_problem = move || RoomName::parse(&room.get()).err();
    let name_problem = move || DisplayName::parse(&name.get()).err();
    let problem_text = move || {
        let t = t();
        room_problem().map(|e| (t.room_problem)(&e)).or_else(|| name_problem().map(|e| (t.name_problem)(&e)))
    };
    let media_ready = move || session.preview.with(Option::is_some);
    // In the room already while its screen waits for the answers to our offers.
    let joining = move || matches!(phase.get(), Phase::Connecting | Phase::InRoom);
    let can_join = move || media_ready() && room_problem().is_none() && name_problem().is_none() && !joining();
    let join = move || {
        if !can_join() {
            return;
        }
        let (room, name) = (room.get_untracked().trim().to_owned(), name.get_untracked().trim().to_owned());
        let password = Some(password.get_untracked()).filter(|p| !p.is_empty());
        route::remember_name(&name);
        route::show_room_in_address_bar(&room);
        session.join(room, name, password);
    };

    // One press of "Join without camera or microphone" joins, once that is in
    // place (if the room and name are right; else the hint says what is not).
    Effect::new(move |_| {
        if session.join_without_media.get() && media_ready() {
            session.join_without_media.set(false);
            join();
        }
    });

    // Who is already there, asked again as the name changes and every few seconds.
    let tick = RwSignal::new(0u32);
    let ticker = gloo_timers::callback::Interval::new(5_000, move || tick.update(|t| *t += 1));
    let _ticker = StoredValue::new_local(ticker);
    // A signal and a task rather than a `LocalResource`, whose async
    // machinery (transitions, async locks) is 13 KB of the page's wasm.
    let occupancy = RwSignal::new(None::<shared::RoomStatus>);
    Effect::new(move |_| {
        tick.track();
        let asked = RoomName::parse(&room.get()).ok();
        leptos::task::spawn_local(async move {
            let status = match &asked {
                Some(name) => crate::signaling::room_status(name).await,
                None => None,
            };
            // An answer about a name no longer typed is dropped.
            if room.try_with_untracked(|now| RoomName::parse(now).ok() == asked) == Some(true) {
                occupancy.set(status);
            }
        });
    });
    let occupancy_text = move || {
        let status = occupancy.get()?;
        let count = match status.members {
            0 => t().nobody_here_yet.to_owned(),
            n if n >= status.capacity => (t().room_full_now)(n, status.capacity),
            n => (t().here_now)(n, status.capacity),
        };
        Some(if status.locked { format!("{count} {}", t().room_locked) } else { count })
    };

    view! {
        <main class="welcome">
            <header>
                <h1>"Moim " <span class="sub">"모임"</span></h1>
                <LanguagePicker />
            </header>
            <div class="preview">
                <StreamVideo stream=session.preview muted=true mirror=true class="self" own_camera=true />
                <Show when=move || session.media_pending.get()>
                    <p class="hint">{tr(|t| t.waiting_for_media)}</p>
                </Show>
                <div class="controls"><MediaToggles /></div>
            </div>
            <Show when=move || session.has_microphone.get()>
                <label class="level">{tr(|t| t.mic_level)}
                    // In thousandths: an integer attribute spares the page Rust's float formatting.
                    <meter id="mic-level" min="0" max="250" low="20" value=move || (session.mic_level.get() * 1000.0).round() as u32></meter>
                </label>
            </Show>
            <MediaProblem />
            <Show when=move || session.sends_nothing()>
                <p class="banner info" id="no-media-note">{tr(|t| t.sending_nothing)}</p>
            </Show>
            <form class="join" on:submit=move |ev| { ev.prevent_default(); join(); }>
                <label>{tr(|t| t.room)}" "
                    <input id="room" autocomplete="off" maxlength=shared::ids::ROOM_NAME_MAX placeholder=tr(|t| t.room_placeholder)
                        prop:value=move || room.get() on:input=move |ev| room.set(event_target_value(&ev)) />
                </label>
                <label>{tr(|t| t.your_name)}" "
                    <input id="name" autocomplete="nickname" maxlength=shared::ids::DISPLAY_NAME_MAX placeholder=tr(|t| t.name_placeholder)
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <label>{tr(|t| t.password)}" "
                    <input id="password" type="password" autocomplete="off" maxlength=shared::PASSWORD_MAX
                        placeholder=tr(|t| t.password_placeholder)
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                </label>
                <p class="hint" id="occupancy">{occupancy_text}</p>
                <p class="hint">{problem_text}</p>
                {move || match phase.get() {
                    Phase::Failed(problem) => Some(view! {
                        <div class="banner error" role="alert">
                            <span id="join-error">{problem.text(lang.get())}</span>
                            {problem.is_connection().then(|| view! { " " <SetupCheckLink /> })}
                        </div>
                    }),
                    _ => None,
                }}
                <button id="join" type="submit" disabled=move || !can_join()>
                    {move || if joining() { t().joining } else { t().join }}
                </button>
                <Show when=move || room_problem().is_none()>
                    // The link to send the others, before anyone has joined.
                    <p class="share-link">
                        <code id="room-link">{move || route::room_link(room.get().trim())}</code>
                        <button type="button" id="welcome-copy-link"
                            on:click=move |_| route::copy_room_link(room.get_untracked().trim())>{tr(|t| t.copy_link)}</button>
                    </p>
                </Show>
                // Set up before joining, and changeable in the room: below Join so it stays in sight.
                <DevicePickers />
                <p class="hint"><SetupCheckLink /></p>
            </form>
        </main>
    }
}
