//! English and Korean: choosing the language, the tables themselves, and the
//! whole app mounted in Korean. Runs in headless Chromium like tests/browser.rs:
//! `cargo test -p frontend --target wasm32-unknown-unknown --test i18n`.

mod common;

use common::{document, wait_until};
use frontend::i18n::{detect, Lang, LANG_KEY};
use frontend::media::MediaError;
use frontend::meeting::{ChatLine, Problem};
use gloo_timers::future::TimeoutFuture;
use shared::NameError;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const EN: Lang = Lang::En;
const KO: Lang = Lang::Ko;

#[wasm_bindgen_test]
fn detection_follows_the_browser_language_list() {
    assert_eq!(detect(["ko-KR"]), KO);
    assert_eq!(detect(["ko"]), KO);
    assert_eq!(detect(["KO_kr"]), KO, "case and underscore do not matter");
    assert_eq!(detect(["en-US"]), EN);
    assert_eq!(detect(["fr"]), EN, "a language we do not speak falls back to English");
    assert_eq!(detect(Vec::<String>::new()), EN, "no list at all");
    assert_eq!(detect(["kok-IN"]), EN, "Konkani is not Korean");
    assert_eq!(detect(["fr-FR", "ko-KR", "en"]), KO, "the first language we speak wins");
    assert_eq!(detect(["en-GB", "ko-KR"]), EN);
    assert_eq!(Lang::from_tag(KO.code()), Some(KO), "a stored code reads back");
    assert_eq!(Lang::from_tag(EN.code()), Some(EN));
}

#[wasm_bindgen_test]
fn english_is_word_for_word_what_the_end_to_end_tests_expect() {
    let t = EN.texts();
    assert_eq!((t.mute, t.unmute), ("Mute", "Unmute"));
    assert_eq!((t.share_screen, t.stop_sharing), ("Share screen", "Stop sharing"));
    assert_eq!((t.camera_off, t.camera_on), ("Camera Off", "Camera On"));
    assert_eq!((t.join, t.joining, t.leave), ("Join", "Joining…", "Leave"));
    assert_eq!((t.left)("Bo"), "Bo left");
    assert_eq!((t.joined)("Bo"), "Bo joined");
    assert_eq!((t.here_now)(1, 6), "1 of 6 here now.");
    assert_eq!(
        Problem::RoomFull("this room is full: 2 of 2".into()).text(EN),
        "Sorry, this room is full: 2 of 2. Try another room name, or wait until someone leaves."
    );
    assert_eq!(
        Problem::Unreachable("ws://x/ws".into()).text(EN),
        "Can't reach the Moim server (ws://x/ws). Check that it is running and that you are online, then try again."
    );
    assert_eq!(ChatLine::NobodyToRead.notice(EN).as_deref(), Some("Nobody else is here yet to read that."));
    // The screen's English is the English of the logs.
    for err in [
        MediaError::PermissionDenied,
        MediaError::NoDevice,
        MediaError::DeviceBusy,
        MediaError::InsecureContext,
        MediaError::Unsupported,
        MediaError::Other("boom".into()),
    ] {
        assert_eq!(err.text(EN), err.to_string());
    }
    assert_eq!(
        Problem::ShareFailed(MediaError::PermissionDenied).text(EN),
        format!("Could not share your screen. {}", MediaError::PermissionDenied)
    );
    // And the validation hints, the words of the shared crate's NameError.
    for err in [NameError::Empty, NameError::TooLong { max: 40 }, NameError::BadChar('/')] {
        assert_eq!((t.room_problem)(&err), format!("Room: {err}"));
        assert_eq!((t.name_problem)(&err), format!("Name: {err}"));
    }
}

#[wasm_bindgen_test]
fn korean_says_the_key_things_in_korean() {
    let (en, ko) = (EN.texts(), KO.texts());
    let pairs = [
        (en.mute, ko.mute),
        (en.unmute, ko.unmute),
        (en.camera_off, ko.camera_off),
        (en.camera_on, ko.camera_on),
        (en.share_screen, ko.share_screen),
        (en.stop_sharing, ko.stop_sharing),
        (en.leave, ko.leave),
        (en.join, ko.join),
        (en.send, ko.send),
        (en.you, ko.you),
        (en.muted, ko.muted),
        (en.shortcuts, ko.shortcuts),
        (en.nobody_to_read, ko.nobody_to_read),
        (en.media_blocked, ko.media_blocked),
        (en.password_required, ko.password_required),
        (en.wrong_password, ko.wrong_password),
        (en.room_locked, ko.room_locked),
    ];
    for (en, ko) in pairs {
        assert_ne!(en, ko);
        assert!(ko.chars().any(is_hangul), "{ko:?} is Korean");
    }
    assert_eq!(ko.mute, "음소거");
    assert_eq!(ko.stop_sharing, "공유 중지");
    for err in [NameError::Empty, NameError::TooLong { max: 64 }, NameError::BadChar('/')] {
        assert!((ko.room_problem)(&err).chars().any(is_hangul));
    }
    assert!((ko.room_problem)(&NameError::TooLong { max: 64 }).contains("64"));
    assert!((ko.name_problem)(&NameError::BadChar('/')).contains('/'));
}

#[wasm_bindgen_test]
fn values_appear_in_both_languages() {
    for lang in Lang::ALL {
        let t = lang.texts();
        let here_now = (t.here_now)(3, 6);
        assert!(here_now.contains('3') && here_now.contains('6'), "{here_now}");
        let full = (t.room_full_now)(2, 2);
        assert!(full.contains("2"), "{full}");
        assert!((t.joined)("Ana").contains("Ana"));
        assert!((t.left)("Bo").contains("Bo"));
        assert!((t.people)(4).contains('4'));
        assert!((t.here)(5).contains('5'));
        assert!(Problem::Unreachable("ws://moim.test/ws".into()).text(lang).contains("ws://moim.test/ws"));
        assert!(Problem::ServerClosed("shutting down".into()).text(lang).contains("shutting down"));
        assert!(Problem::Reconnecting(3).text(lang).contains('3'));
        assert!(Problem::BadPassword("too long".into()).text(lang).contains("too long"));
        assert!(MediaError::Other("boom".into()).text(lang).contains("boom"));
        assert_eq!(ChatLine::Joined("Cy".into()).notice(lang).map(|n| n.contains("Cy")), Some(true));
        assert_eq!(ChatLine::Said { from: "Cy".into(), text: "hi".into() }.notice(lang), None);
    }
}

fn is_hangul(c: char) -> bool {
    ('가'..='힣').contains(&c)
}

fn storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

#[wasm_bindgen_test]
async fn the_app_speaks_the_remembered_language_and_switches_live() {
    let html = document().document_element().unwrap();
    let html_lang = html.get_attribute("lang");
    storage().set_item(LANG_KEY, "ko").unwrap();

    let parent: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&parent).unwrap();
    let handle = leptos::mount::mount_to(parent.clone(), frontend::app::App);

    let text_of =
        |selector: &str| parent.query_selector(selector).unwrap().and_then(|el| el.text_content()).unwrap_or_default();
    assert_eq!(text_of("#mute"), "음소거");
    assert_eq!(text_of("#join"), "참여하기");
    wait_until("<html lang=ko>", 2_000, || html.get_attribute("lang").as_deref() == Some("ko")).await;
    let select: web_sys::HtmlSelectElement = parent.query_selector("#language").unwrap().unwrap().unchecked_into();
    assert_eq!(select.value(), "ko");

    // The person switches to English: labels change in place, and it is remembered.
    select.set_value("en");
    select.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
    wait_until("English labels", 2_000, || text_of("#mute") == "Mute").await;
    assert_eq!(text_of("#join"), "Join");
    wait_until("<html lang=en>", 2_000, || html.get_attribute("lang").as_deref() == Some("en")).await;
    assert_eq!(storage().get_item(LANG_KEY).unwrap().as_deref(), Some("en"));

    // Let the camera start (the fake one) before unmounting, so nothing is
    // left writing to a disposed page.
    wait_until("the camera preview", 10_000, || {
        parent
            .query_selector("video.self")
            .unwrap()
            .and_then(|v| v.dyn_into::<web_sys::HtmlMediaElement>().ok())
            .is_some_and(|v| v.src_object().is_some())
    })
    .await;
    TimeoutFuture::new(200).await;

    drop(handle);
    parent.remove();
    storage().remove_item(LANG_KEY).unwrap();
    match html_lang {
        Some(lang) => html.set_attribute("lang", &lang).unwrap(),
        None => html.remove_attribute("lang").unwrap(),
    }
}
