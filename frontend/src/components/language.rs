use crate::i18n::{choose_lang, tr, use_lang, Lang};
use leptos::prelude::*;

/// Picks the language of the page; the choice is remembered.
#[component]
pub fn LanguagePicker() -> impl IntoView {
    let signal = use_lang();
    let current = signal.get_untracked();
    let choose = move |ev| {
        if let Some(lang) = Lang::from_tag(&event_target_value(&ev)) {
            choose_lang(signal, lang);
        }
    };
    // Only this picker changes the language, so it starts right and stays right.
    view! {
        <select id="language" aria-label=tr(|t| t.language) on:change=choose>
            {Lang::ALL.map(|lang| view! {
                <option value=lang.code() lang=lang.code() selected=lang == current>{lang.native_name()}</option>
            })}
        </select>
    }
}
