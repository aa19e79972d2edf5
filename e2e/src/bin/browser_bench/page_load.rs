//! Figure 3's run: one page load, timed to the self-preview's first frame.

use crate::pages::READ_LOAD;
use crate::{marks, park, Marks, SETTLE};
use e2e::{Browser, Result};
use std::time::{Duration, Instant};

/// Loads `path` and returns the page's marks (ms since navigation start)
/// once `video.self` has shown its first frame.
pub async fn page_load(browser: &Browser, base: &str, path: &str) -> Result<Marks> {
    park(&[browser]).await;
    // Let the last page's camera and renderer wind down.
    tokio::time::sleep(SETTLE / 2).await;
    browser.client.goto(&format!("{base}{path}")).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = browser.eval(READ_LOAD).await?;
        if !value.is_null() {
            return marks(value);
        }
        if Instant::now() > deadline {
            return Err(format!("{path}: no self-preview frame within 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
