//! axe-core (from npm, `cargo xtask setup --browsers` puts it in
//! `target/axe`) run in a page: its accessibility violations, one line each.

use crate::{Browser, Result};
use std::path::PathBuf;

fn script() -> Result<String> {
    let path = std::env::var_os("AXE_CORE")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/axe/node_modules/axe-core/axe.min.js"));
    std::fs::read_to_string(&path).map_err(|e| {
        format!("{}: {e} (run `cargo xtask setup --browsers`, which installs axe-core)", path.display()).into()
    })
}

impl Browser {
    /// axe's violations on the page as it is now (every rule axe runs by
    /// default: WCAG A and AA, and best practices).
    pub async fn accessibility_violations(&self) -> Result<Vec<String>> {
        // Given as a script of its own: evaluated by WebDriver, not subject to the page's CSP.
        self.client.execute(&format!("{}\nreturn true;", script()?), vec![]).await?;
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations.map(v =>
                   `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')})`
                 )), e => done([`axe failed: ${e}`]));",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(found)?)
    }
}
