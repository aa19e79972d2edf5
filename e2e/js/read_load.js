const L = window.__load;
if (!L || !('self_frame' in L.marks) || document.getElementById('early')) return null;
const out = { ...L.marks };
const nav = performance.getEntriesByType('navigation')[0];
if (nav) { out.html_response_end = nav.responseEnd; out.dom_content_loaded = nav.domContentLoadedEventEnd; }
for (const r of performance.getEntriesByType('resource')) {
  if (r.name.endsWith('.wasm')) { out.wasm_fetch_start = r.startTime; out.wasm_response_end = r.responseEnd; }
  if (/frontend-[0-9a-f]+\.js$/.test(r.name)) { out.js_fetch_start = r.startTime; out.js_response_end = r.responseEnd; }
}
out.busy = L.long.filter(([start]) => start < out.self_frame).reduce((sum, [, d]) => sum + d, 0);
return out;
