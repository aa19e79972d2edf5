const abs = () => performance.timeOrigin + performance.now();
// Each video codec but rtx/red/FEC gets the start rate on its fmtp line (a new one if it has none).
const withStartRate = (sdp, kbps) => {
  const lines = sdp.split('\r\n'), codecs = new Map(), out = [];
  let video = false;
  for (const l of lines) {
    if (l.startsWith('m=')) video = l.startsWith('m=video');
    const m = video && l.match(/^a=rtpmap:(\d+) ([^/]+)\//);
    if (m && !/^(rtx|red|ulpfec|flexfec-03)$/i.test(m[2])) codecs.set(m[1], false);
    const f = video && l.match(/^a=fmtp:(\d+) /);
    if (f && codecs.has(f[1])) codecs.set(f[1], true);
  }
  for (const l of lines) {
    if (l.startsWith('m=')) video = l.startsWith('m=video');
    const f = video && l.match(/^a=fmtp:(\d+) /);
    out.push(f && codecs.has(f[1]) ? l + ';x-google-start-bitrate=' + kbps : l);
    const r = video && l.match(/^a=rtpmap:(\d+) /);
    if (r && codecs.get(r[1]) === false) out.push('a=fmtp:' + r[1] + ' x-google-start-bitrate=' + kbps);
  }
  return out.join('\r\n');
};
window.floor = async (settleMs, startKbps) => {
  const given = d => startKbps ? { type: d.type, sdp: withStartRate(d.sdp, startKbps) } : d;
  const stream = await navigator.mediaDevices.getUserMedia({CONSTRAINTS});
  // Media already flowing, as on a Moim page whose preview is live.
  await new Promise(r => setTimeout(r, settleMs));
  const m = {};
  const mark = k => { if (!(k in m)) m[k] = abs(); };
  const built = abs();
  const pc1 = new RTCPeerConnection(), pc2 = new RTCPeerConnection();
  const held = new Map([[pc1, []], [pc2, []]]);
  const hand = (from, to) => from.addEventListener('icecandidate', e => {
    if (!e.candidate) return;
    if (to.remoteDescription) to.addIceCandidate(e.candidate).catch(() => {});
    else held.get(to).push(e.candidate);
  });
  const flush = pc => { for (const c of held.get(pc)) pc.addIceCandidate(c).catch(() => {}); held.get(pc).length = 0; };
  hand(pc1, pc2); hand(pc2, pc1);
  for (const t of stream.getTracks()) { pc1.addTrack(t, stream); pc2.addTrack(t, stream); }
  const v1 = document.getElementById('at-offerer'), v2 = document.getElementById('at-answerer');
  const side = (pc, v, who) => {
    pc.addEventListener('track', e => { mark('track_' + who); if (v.srcObject !== e.streams[0]) v.srcObject = e.streams[0]; });
    pc.addEventListener('iceconnectionstatechange', () => mark('ice_' + pc.iceConnectionState + '_' + who));
    pc.addEventListener('connectionstatechange', () => mark('pc_' + pc.connectionState + '_' + who));
    return new Promise(resolve => {
      const done = () => { mark('frame_' + who); resolve(); };
      if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(done);
      else { const poll = () => v.currentTime > 0 ? done() : setTimeout(poll, 4); poll(); }
    });
  };
  const frames = Promise.all([side(pc1, v1, 'offerer'), side(pc2, v2, 'answerer')]);
  const long = [];
  const watcher = new PerformanceObserver(list => {
    for (const e of list.getEntries()) long.push([performance.timeOrigin + e.startTime, e.duration]);
  });
  watcher.observe({ type: 'longtask' });
  const t0 = abs();
  try {
    const offer = await pc1.createOffer();
    await pc1.setLocalDescription(offer); mark('offer_ready');
    await pc2.setRemoteDescription(given(offer)); flush(pc2); mark('offer_applied');
    const answer = await pc2.createAnswer();
    await pc2.setLocalDescription(answer); mark('answer_ready');
    await pc1.setRemoteDescription(given(answer)); flush(pc1); mark('answer_applied');
    const late = new Promise((_, no) => setTimeout(() => no(new Error('no remote frame in 20 s')), 20000));
    await Promise.race([frames, late]);
    const out = {};
    for (const [k, v] of Object.entries(m)) out[k] = v - t0;
    const last = Math.max(m.frame_offerer, m.frame_answerer);
    out.construct_ms = t0 - built;
    out.start_rate_codecs = (pc2.remoteDescription.sdp.match(/x-google-start-bitrate/g) || []).length;
    out.t0_epoch = t0; // for BENCH_DEBUG
    out.busy = long.filter(([start]) => start >= t0 && start < last).reduce((sum, [, d]) => sum + d, 0);
    return out;
  } finally {
    watcher.disconnect();
    pc1.close(); pc2.close();
    for (const t of stream.getTracks()) t.stop();
    v1.srcObject = null; v2.srcObject = null;
  }
};
