//! One person's headless Chromium, driven through WebDriver: joining,
//! waiting for what the page shows, and the checks every browser gets on
//! close (its Content-Security-Policy kept, no promise rejection unhandled).

use crate::{js_str, Result, PATIENCE};
use fantoccini::{Client, Locator};
use serde_json::Value;
use std::time::{Duration, Instant};

/// True once the app's welcome screen has taken over `index.html`'s early
/// one (whose `#early` it removes) and the self-preview has the camera.
const PREVIEW_IN_APP: &str =
    "return !document.getElementById('early') && !!document.querySelector('video.self')?.srcObject";

/// See [`Browser::unreadable_pickers`]. The select's arrow takes ~20 px of its inner width.
const UNREADABLE_PICKERS: &str = "const out = [], ctx = document.createElement('canvas').getContext('2d');
  for (const picker of document.querySelectorAll('#devices .picker')) {
    const select = picker.querySelector('select'), label = picker.querySelector('.label');
    if (!select || !select.getClientRects().length) continue;
    if (!label?.getClientRects().length || !label.textContent.trim()) out.push(`${select.id} has no visible label`);
    const style = getComputedStyle(select), name = select.selectedOptions[0]?.textContent ?? '';
    ctx.font = style.font;
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
    if (ctx.measureText(name).width > room) out.push(`${select.id} cuts its device's name: ${name}`);
  }
  return out;";

pub struct Browser {
    pub client: Client,
    pub(crate) base: String,
}

impl Browser {
    /// Opens the room's link, types a name and clicks Join.
    pub async fn join(&self, room: &str, name: &str) -> Result<()> {
        self.open_room(room).await?;
        self.wait_for_preview().await?;
        self.join_as(name).await
    }

    /// Waits until the app's welcome screen is up (it took over `index.html`'s
    /// early screen) and its self-preview shows the camera.
    pub async fn wait_for_preview(&self) -> Result<()> {
        self.wait_for("a live self-preview", PREVIEW_IN_APP).await
    }

    /// Opens a page of the app by its path (`/check`).
    pub async fn open_path(&self, path: &str) -> Result<()> {
        self.client.goto(&format!("{}{path}", self.base)).await?;
        Ok(())
    }

    /// Opens the room's link (the welcome screen).
    pub async fn open_room(&self, room: &str) -> Result<()> {
        self.client.goto(&format!("{}/r/{room}", self.base)).await?;
        Ok(())
    }

    /// On the welcome screen: types a name and clicks Join.
    pub async fn join_as(&self, name: &str) -> Result<()> {
        self.type_name(name).await?;
        self.client.find(Locator::Css("#join")).await?.click().await?;
        Ok(())
    }

    /// On the welcome screen: types a name and waits until Join can be clicked.
    pub async fn type_name(&self, name: &str) -> Result<()> {
        let input = self.client.find(Locator::Css("#name")).await?;
        input.clear().await?;
        input.send_keys(name).await?;
        self.wait_for("Join to be enabled", "return !document.querySelector('#join').disabled").await
    }

    /// Whether the element is wholly on screen with the page scrolled to its
    /// top: what a person sees without scrolling.
    pub async fn in_sight_at_top(&self, selector: &str) -> Result<bool> {
        let script = format!(
            "scrollTo(0, 0); const r = document.querySelector('{selector}')?.getBoundingClientRect();
             return !!r && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth"
        );
        Ok(self.eval(&script).await? == Value::Bool(true))
    }

    /// Runs `script` (a function body returning a value) and returns the value.
    pub async fn eval(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Polls `script` (a function body returning a boolean) until true.
    pub async fn wait_for(&self, what: &str, script: &str) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.eval(script).await? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let page = self.eval("return document.body.innerText").await.unwrap_or_default();
                return Err(format!("timed out waiting for {what}; the page says:\n{page}").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until `count` remote tiles each show video whose frames advance.
    pub async fn wait_for_live_remote_videos(&self, count: usize) -> Result<()> {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             const vids = [...document.querySelectorAll('.tile.remote video')];
             if (vids.length !== {count} || vids.some(v => v.videoWidth === 0)) return done(false);
             const frames = v => v.getVideoPlaybackQuality().totalVideoFrames;
             const before = vids.map(v => [v.currentTime, frames(v)]);
             setTimeout(() => done(vids.every((v, i) => v.currentTime > before[i][0] && frames(v) > before[i][1])), 600);"
        );
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.client.execute_async(&script, vec![]).await? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let page = self.eval("return document.body.innerText").await.unwrap_or_default();
                return Err(
                    format!("timed out waiting for {count} live remote video(s); the page says:\n{page}").into()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until sound is coming in: the bytes of incoming audio on the
    /// page's connections grow. The page must have been opened with
    /// [`crate::TRACK_PEER_CONNECTIONS`].
    pub async fn wait_for_remote_audio(&self) -> Result<()> {
        let script = "const done = arguments[arguments.length - 1];
             const audioIn = async () => {
               let bytes = 0;
               for (const pc of window.pcs ?? []) {
                 if (pc.connectionState !== 'connected') continue;
                 (await pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'audio') bytes += r.bytesReceived; });
               }
               return bytes;
             };
             audioIn().then(a => setTimeout(() => audioIn().then(b => done(b > a)), 500));";
        let deadline = Instant::now() + PATIENCE;
        while self.client.execute_async(script, vec![]).await? != Value::Bool(true) {
            if Instant::now() > deadline {
                return Err("timed out waiting for incoming sound".into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Opens the details of this page's first remote tile and waits until they
    /// say all of `wanted`; returns their text.
    pub async fn link_details_saying(&self, wanted: &[&str]) -> Result<String> {
        let large = "document.querySelector('.tile.remote').classList.contains('large')";
        let was_large = self.eval(&format!("return {large}")).await?;
        self.eval("document.querySelector('.tile.remote button.link').click()").await?;
        let all = wanted.iter().map(|w| format!("t.includes({})", js_str(w))).collect::<Vec<_>>().join(" && ");
        self.wait_for(
            &format!("the tile's details to say {wanted:?}"),
            &format!("const t = document.querySelector('.tile.remote .link-details')?.innerText ?? ''; return {all}"),
        )
        .await?;
        if self.eval(&format!("return {large}")).await? != was_large {
            return Err("opening the details enlarged the tile".into());
        }
        let text = self.eval("return document.querySelector('.tile.remote .link-details').innerText").await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Types `text` into the chat and sends it.
    pub async fn say(&self, text: &str) -> Result<()> {
        self.client.find(Locator::Css("#chat-input")).await?.send_keys(text).await?;
        self.client.find(Locator::Css("#chat-send")).await?.click().await?;
        Ok(())
    }

    pub async fn screenshot(&self, path: &std::path::Path) -> Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Fails if the page reported a CSP violation; checked on `close` too.
    pub async fn close(self) -> Result<()> {
        let violations = self.csp_violations().await;
        let unhandled = self.eval("return window.pageErrors ?? []").await;
        self.client.close().await?;
        if let Ok(list) = violations.as_ref() {
            if !list.is_empty() {
                return Err(format!("the page broke its Content-Security-Policy: {list:?}").into());
            }
        }
        match unhandled {
            Ok(list) if list.as_array().is_some_and(|l| !l.is_empty()) => {
                Err(format!("the page left promise rejections unhandled: {list}").into())
            }
            _ => Ok(()),
        }
    }

    /// The shown device pickers a person could not read: without a visible
    /// label, or too narrow for the chosen device's whole name.
    pub async fn unreadable_pickers(&self) -> Result<Vec<String>> {
        let found = self.eval(UNREADABLE_PICKERS).await?;
        Ok(serde_json::from_value(found)?)
    }

    /// What the page (since it loaded) reported as blocked by the server's
    /// Content-Security-Policy: a policy that blocks the app's own scripts,
    /// styles or connections would break it without an error of its own.
    pub async fn csp_violations(&self) -> Result<Vec<String>> {
        let list = self.eval("return window.cspViolations ?? []").await?;
        Ok(serde_json::from_value(list)?)
    }

    /// Fails unless the page runs under a Content-Security-Policy (so the
    /// check means something) and reported no violation of it.
    pub async fn assert_csp_kept(&self) -> Result<()> {
        let policy = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(location.href).then(r => done(r.headers.get('content-security-policy')), e => done(String(e)))",
                vec![],
            )
            .await?;
        if !policy.as_str().is_some_and(|p| p.contains("script-src")) {
            return Err(format!("the page has no Content-Security-Policy: {policy}").into());
        }
        match self.csp_violations().await? {
            list if list.is_empty() => Ok(()),
            list => Err(format!("the page broke its Content-Security-Policy: {list:?}").into()),
        }
    }
}
