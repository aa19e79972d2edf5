//! "Test my setup" (`/check`) in headless Chromium with the fake camera and
//! microphone, against a real coturn on 127.0.0.1 giving STUN and TURN: every
//! line green; with coturn stopped, the TURN line red and saying why.

use e2e::coturn::Coturn;
use e2e::{Browser, Harness, Result};

/// Waits until no line is still checking (the speaker's needs its button),
/// then returns each line's check, status and text.
async fn lines_when_done(person: &Browser) -> Result<Vec<(String, String, String)>> {
    person.open_path("/check").await?;
    person
        .wait_for("the speaker test's button", "return !!document.querySelector('[data-check=speaker] button')")
        .await?;
    person.eval("document.querySelector('[data-check=speaker] button').click()").await?;
    person.wait_for("every check done", "return document.querySelectorAll('.check-line.waiting').length === 0").await?;
    let lines = person
        .eval(
            "return [...document.querySelectorAll('.check-line')].map(l =>
               [l.dataset.check, ['good', 'bad'].find(s => l.classList.contains(s)), l.innerText])",
        )
        .await?;
    let text = |v: &serde_json::Value, i: usize| v.get(i).and_then(|s| s.as_str()).unwrap_or_default().to_owned();
    Ok(lines.as_array().ok_or("a list")?.iter().map(|l| (text(l, 0), text(l, 1), text(l, 2))).collect())
}

/// A WAV of a steady 440 Hz tone, for the fake microphone: Chromium's own
/// fake input is near silence after its first moments, too quiet to show the
/// microphone line turning green reliably.
fn tone_file() -> Result<std::path::PathBuf> {
    let (rate, seconds) = (48_000u32, 2u32);
    let samples = (0..rate * seconds)
        .map(|i| ((f64::from(i) * 2.0 * std::f64::consts::PI * 440.0 / f64::from(rate)).sin() * 12_000.0) as i16);
    let wav = shared::wav::mono16(rate, samples);
    let path = std::env::temp_dir().join(format!("moim-tone-{}.wav", std::process::id()));
    std::fs::write(&path, wav)?;
    Ok(path)
}

fn line<'a>(lines: &'a [(String, String, String)], check: &str) -> &'a (String, String, String) {
    lines.iter().find(|l| l.0 == check).unwrap_or_else(|| panic!("no {check} line in {lines:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_is_green_with_coturn_and_the_turn_line_says_why_without() -> Result<()> {
    let coturn = Coturn::start().await?;
    let stun =
        shared::IceServer { urls: vec![format!("stun:127.0.0.1:{}", coturn.port)], username: None, credential: None };
    let config = backend::Config { ice_servers: vec![stun], turn: Some(coturn.rest()), ..e2e::config(2)? };
    let harness = Harness::start_config(config).await?;
    let tone = tone_file()?;
    let microphone = format!("--use-file-for-fake-audio-capture={}", tone.display());

    let ana = harness.browser(&[&microphone]).await?;
    let lines = lines_when_done(&ana).await?;
    let checks: Vec<&str> = lines.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(
        checks,
        ["secure", "devices", "camera", "microphone", "socket", "stun", "turn", "relay-call", "speaker"],
        "every line the issue names"
    );
    for (check, status, text) in &lines {
        assert_eq!(status, "good", "{check}: {text}");
    }
    assert!(line(&lines, "turn").2.contains("The TURN relay works: 127.0.0.1:"), "{lines:?}");
    assert!(line(&lines, "relay-call").2.contains("round trip"), "{lines:?}");
    assert!(coturn.allocations() >= 2, "the relay check and the call through it allocated on coturn");
    ana.screenshot(&e2e::artifact("setup-check.png")).await?;
    ana.assert_csp_kept().await?;
    ana.close().await?;

    drop(coturn);
    let bo = harness.browser(&[&microphone]).await?;
    let lines = lines_when_done(&bo).await?;
    let (_, status, text) = line(&lines, "turn");
    assert_eq!(status, "bad");
    assert!(text.contains("did not answer") && text.contains("--turn-url"), "what is wrong and what to do: {text}");
    assert_eq!(line(&lines, "relay-call").1, "bad");
    assert_eq!(line(&lines, "socket").1, "good", "the rest is still fine");
    bo.close().await?;
    let _ = std::fs::remove_file(tone);
    Ok(())
}
