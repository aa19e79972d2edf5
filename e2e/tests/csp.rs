//! The server's Content-Security-Policy in real Chromium: the page (its
//! inline scripts, the early camera, the app) runs within it, and what it is
//! for happens: an injected inline script is blocked, and reported, so the
//! suites' "no violation" checks (`Browser::close`) can see one.

use e2e::{Harness, Result};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_runs_within_its_policy_and_an_injected_script_does_not() -> Result<()> {
    let harness = Harness::start(2).await?;
    let ana = harness.browser(&[]).await?;
    ana.open_room("policy").await?;
    ana.wait_for_preview().await?;
    assert_eq!(ana.eval("return typeof window.moimEarlyShown").await?, "object", "index.html's inline script ran");
    ana.assert_csp_kept().await?;

    let injected = "const s = document.createElement('script');
        s.textContent = 'window.injected = true';
        document.head.append(s);
        return new Promise(done => setTimeout(() => done(window.injected === true), 100))";
    assert_eq!(ana.eval(injected).await?, false, "an inline script without the page's hash never runs");
    let violations = ana.csp_violations().await?;
    assert!(violations.len() == 1 && violations[0].starts_with("script-src-elem blocked inline"), "{violations:?}");
    assert!(ana.assert_csp_kept().await.is_err(), "the check sees it");
    // Reported, as meant: not a failure of the page.
    ana.eval("window.cspViolations = []; return true").await?;
    ana.close().await
}
