(() => {
  if (window.__load) return;
  const L = window.__load = { marks: {} };
  const mark = k => { if (!(k in L.marks)) L.marks[k] = performance.now(); };
  const watch = v => {
    mark('self_video_in_dom');
    if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(() => mark('self_frame'));
    else { const poll = () => v.currentTime > 0 ? mark('self_frame') : setTimeout(poll, 4); poll(); }
  };
  const observer = new MutationObserver(() => {
    const v = document.querySelector('video.self');
    if (v && !L.video) { L.video = v; watch(v); }
    if (document.getElementById('join')) { mark('app_drawn'); observer.disconnect(); }
  });
  observer.observe(document, { childList: true, subtree: true });
  const media = navigator.mediaDevices;
  if (media) {
    const gum = media.getUserMedia.bind(media);
    media.getUserMedia = c => { mark('gum_call'); return gum(c).then(s => { mark('gum_done'); return s; }); };
  }
  const src = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
    ...src,
    set(v) { if (v && this.matches('video.self')) mark('self_stream_set'); src.set.call(this, v); },
  });
  addEventListener('TrunkApplicationStarted', () => mark('wasm_started'));
  for (const name of ['instantiateStreaming', 'instantiate']) {
    const original = WebAssembly[name];
    WebAssembly[name] = function (...args) {
      mark('wasm_' + name + '_call');
      return original.apply(this, args).then(r => { mark('wasm_instantiated'); return r; });
    };
  }
  L.long = [];
  new PerformanceObserver(list => { for (const e of list.getEntries()) L.long.push([e.startTime, e.duration]); })
    .observe({ type: 'longtask' });
})();
