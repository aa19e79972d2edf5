//! A page from another site must not be able to open Moim's WebSocket (that
//! would let any site a member visits join rooms as them). Two real servers:
//! a page of B tries A's `/ws` in real Chromium, which sends B's `Origin`.

use e2e::{Browser, Harness, Result};
use serde_json::Value;

/// Opens a WebSocket to `arguments[0]` and reports the first thing that
/// happens: "open", "error", "closed <code>", "threw: …", or "no answer" if
/// nothing did within 10 s (well under WebDriver's 30 s script timeout).
const TRY_WEBSOCKET: &str = "
    const url = arguments[0], done = arguments[arguments.length - 1];
    let ws;
    try { ws = new WebSocket(url); } catch (e) { return done('threw: ' + e); }
    const timer = setTimeout(() => done('no answer'), 10000);
    const report = (what) => { clearTimeout(timer); done(what); };
    ws.onopen = () => { ws.close(); report('open'); };
    ws.onerror = () => report('error');
    ws.onclose = (e) => report('closed ' + e.code);
";

async fn try_websocket(browser: &Browser, url: &str) -> Result<String> {
    match browser.client.execute_async(TRY_WEBSOCKET, vec![Value::String(url.to_owned())]).await? {
        Value::String(outcome) => Ok(outcome),
        other => Err(format!("the script reported {other} for {url}").into()),
    }
}

/// `moim_connections_refused_total{reason="origin"}` of `server`.
async fn refused_for_origin(server: &Harness) -> Result<String> {
    let text = server.get("/metrics").await?;
    let line = text
        .lines()
        .find(|l| l.starts_with("moim_connections_refused_total{reason=\"origin\"}"))
        .ok_or_else(|| format!("{}/metrics has no origin refusal counter:\n{text}", server.base))?;
    Ok(line.rsplit(' ').next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_from_another_origin_cannot_open_the_websocket() -> Result<()> {
    let a = Harness::start(2).await?;
    let b = Harness::start(2).await?;
    // Same host, another port: another origin, as browsers count them.
    assert_ne!(a.port, b.port);

    let browser = b.browser(&[]).await?;
    // A hostile page would not be under Moim's CSP, whose `connect-src 'self'`
    // stops B's page before A could refuse it: A's own check is what is tested.
    b.cdp(&browser, "Page.setBypassCSP", serde_json::json!({ "enabled": true })).await?;
    browser.client.goto(&format!("{}/", b.base)).await?;
    let page_origin = browser.eval("return location.origin").await?;
    assert_eq!(page_origin, Value::String(b.base.clone()), "the page is B's");

    // Control first: the script works, and a page may use its own server.
    let own = format!("ws://localhost:{}/ws", b.port);
    assert_eq!(try_websocket(&browser, &own).await?, "open", "B's page opening B's {own}");

    let foreign = format!("ws://localhost:{}/ws", a.port);
    let outcome = try_websocket(&browser, &foreign).await?;
    assert!(
        outcome == "error" || outcome.starts_with("closed"),
        "B's page opening A's {foreign} must be refused, got {outcome:?}"
    );
    // A refused it for its origin (a 403), not for some other reason.
    assert_eq!(refused_for_origin(&a).await?, "1", "A counts one refusal for origin");
    assert_eq!(refused_for_origin(&b).await?, "0", "B refused nothing");

    // And the other way round: A's page cannot open B's.
    browser.client.goto(&format!("{}/", a.base)).await?;
    let outcome = try_websocket(&browser, &own).await?;
    assert!(outcome != "open", "A's page opening B's {own} must be refused, got {outcome:?}");
    browser.close().await
}
