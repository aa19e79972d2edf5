use crate::i18n::{tr, use_lang, use_texts};
use crate::meeting::{ChatLine, MAX_CHAT_CHARS};
use crate::session::Session;
use leptos::prelude::*;

/// Chat with the room. Lines travel peer to peer and are always shown as text.
#[component]
pub fn Chat() -> impl IntoView {
    let session = expect_context::<Session>();
    let (lang, t) = (use_lang(), use_texts());
    let draft = RwSignal::new(String::new());
    let send = move || {
        session.send_chat(&draft.get_untracked());
        draft.set(String::new());
    };
    view! {
        <aside class="chat">
            // Focusable: a list that scrolls must scroll from the keyboard too.
            <ol id="chat-log" aria-live="polite" tabindex="0" aria-label=tr(|t| t.chat_log)>
                {move || session.view.chat.get().into_iter().map(|line| match line {
                    ChatLine::Said { from, text } => view! {
                        <li class="chat-line"><b class="from">{from}</b>": "<span class="text">{text}</span></li>
                    }.into_any(),
                    ChatLine::Mine { text } => view! {
                        <li class="chat-line mine"><b class="from">{t().you}</b>": "<span class="text">{text}</span></li>
                    }.into_any(),
                    notice => view! { <li class="chat-notice">{notice.notice(lang.get())}</li> }.into_any(),
                }).collect_view()}
            </ol>
            <form on:submit=move |ev| { ev.prevent_default(); send(); }>
                <input id="chat-input" autocomplete="off" placeholder=tr(|t| t.message_everyone) maxlength=MAX_CHAT_CHARS
                    prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev)) />
                <button id="chat-send" type="submit">{tr(|t| t.send)}</button>
            </form>
        </aside>
    }
}
