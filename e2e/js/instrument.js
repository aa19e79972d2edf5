const B = window.__b = { marks: {} };
const abs = () => performance.timeOrigin + performance.now();
// The first time of each step, and of its second time as `<step>_2` (a
// connection to the SFU sets a remote description twice: its answer, then
// its offer of the others' tracks).
const mark = B.mark = k => {
  if (!(k in B.marks)) B.marks[k] = abs();
  else if (!(k + '_2' in B.marks)) B.marks[k + '_2'] = abs();
};
const watch = v => {
  if (v.__benchWatched) return;
  v.__benchWatched = true;
  mark('remote_video_in_dom');
  if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(() => mark('frame'));
  else { const poll = () => v.currentTime > 0 ? mark('frame') : setTimeout(poll, 4); poll(); }
  v.addEventListener('loadeddata', () => mark('loadeddata'));
};
const inRoomAlready = !!document.querySelector('main.room');
const scan = () => {
  document.querySelectorAll('.tile.remote video').forEach(watch);
  if (!inRoomAlready && document.querySelector('main.room')) mark('room_in_dom');
};
scan();
new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
// Main-thread tasks over 50 ms, to tell a busy page from a slow network.
B.long = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) B.long.push([performance.timeOrigin + e.startTime, e.duration]);
}).observe({ type: 'longtask' });
// What kept the main thread busy (long animation frames, with script attribution).
B.loaf = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) B.loaf.push({
    start: performance.timeOrigin + e.startTime, duration: e.duration, blocking: e.blockingDuration,
    render: e.renderStart ? e.startTime + e.duration - e.renderStart : 0,
    layout: e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0,
    scripts: e.scripts.map(s => ({ invoker: s.invoker, type: s.invokerType, duration: s.duration,
      layout: s.forcedStyleAndLayoutDuration, fn: s.sourceFunctionName })),
  });
}).observe({ type: 'long-animation-frame' });
if (!window.__benchPatched) {
window.__benchPatched = true;
const type = data => { try { return JSON.parse(data).type ?? '?'; } catch (_) { return '?'; } };
const WS = window.WebSocket;
// On the prototypes, so the socket of the page already in the room is seen too:
// a message counts as received when the app reads it.
const send = WS.prototype.send;
WS.prototype.send = function (data) { window.__b.mark('out_' + type(data)); return send.call(this, data); };
const data = Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'data');
Object.defineProperty(MessageEvent.prototype, 'data', {
  ...data,
  get() {
    const d = data.get.call(this);
    if (this.target instanceof WS) {
      const t = type(d);
      window.__b.mark('in_' + t);
      // Runs once the app's handler has returned: how long its synchronous part took.
      queueMicrotask(() => window.__b.mark('handled_' + t));
    }
    return d;
  },
});
const src = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
  ...src,
  set(v) { if (v && this.closest('.tile.remote')) window.__b.mark('remote_stream_set'); src.set.call(this, v); },
});
window.WebSocket = class extends WS {
  constructor(...args) {
    super(...args);
    window.__b.mark('ws_new');
    this.addEventListener('open', () => window.__b.mark('ws_open'));
  }
};
const PC = window.RTCPeerConnection;
// A connection's progress; also for one made before this script ran (the
// newcomer's, prepared on the welcome screen), seen at its first method call.
const watched = new WeakSet();
const watch = pc => {
  if (watched.has(pc)) return;
  watched.add(pc);
  const mark = window.__b.mark;
  pc.addEventListener('icecandidate', e => { if (e.candidate) mark('local_candidate'); });
  pc.addEventListener('iceconnectionstatechange', () => mark('ice_' + pc.iceConnectionState));
  pc.addEventListener('connectionstatechange', () => mark('pc_' + pc.connectionState));
  pc.addEventListener('track', () => mark('track'));
};
const addTrack = PC.prototype.addTrack;
PC.prototype.addTrack = function (...args) {
  window.__b.mark('addTrack_called');
  const sender = addTrack.apply(this, args);
  window.__b.mark('addTrack_returned');
  return sender;
};
for (const name of ['createOffer', 'createAnswer', 'setLocalDescription', 'setRemoteDescription', 'addIceCandidate']) {
  const original = PC.prototype[name];
  PC.prototype[name] = function (...args) {
    watch(this);
    window.__b.mark(name + '_start');
    const p = original.apply(this, args);
    p.then(() => window.__b.mark(name + '_done'), () => {});
    return p;
  };
}
window.RTCPeerConnection = class extends PC {
  constructor(...args) {
    window.__b.mark('pc_constructor_called');
    super(...args);
    window.__b.mark('pc_new');
    watch(this);
  }
};
}
return true;
