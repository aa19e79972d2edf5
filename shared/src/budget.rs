//! How much video each member sends to each other member. In a mesh every
//! member encodes one stream per other member, so the cost of a room grows
//! with its size: as it grows, each stream gets fewer bits and fewer pixels,
//! keeping the total a laptop encodes and uploads roughly flat.

/// Encoding limits for one outgoing video stream
/// (`RTCRtpEncodingParameters.maxBitrate` and `.scaleResolutionDownBy`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoBudget {
    pub max_bitrate_bps: u32,
    pub scale_resolution_down_by: f64,
}

/// Upload a member can be expected to sustain for video, in bits per second.
const TOTAL_UPLOAD_BPS: u32 = 2_500_000;
/// Below this a stream is not worth watching; the budget never goes lower.
const FLOOR_BPS: u32 = 250_000;
/// One stream alone is capped here (more buys little at 720p).
const CEILING_BPS: u32 = 1_500_000;

/// The budget for each stream when sending to `others` members.
pub fn video_budget(others: usize) -> VideoBudget {
    let others = others.max(1) as u32;
    let max_bitrate_bps = (TOTAL_UPLOAD_BPS / others).clamp(FLOOR_BPS, CEILING_BPS);
    // 720p to one or two people, 540p to three, 360p to four or more.
    let scale_resolution_down_by = match others {
        1 | 2 => 1.0,
        3 => 4.0 / 3.0,
        _ => 2.0,
    };
    VideoBudget { max_bitrate_bps, scale_resolution_down_by }
}

/// One simulcast layer of the camera a member sends the media server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer {
    /// Its RTP stream id (`rid`).
    pub rid: &'static str,
    pub scale_resolution_down_by: f64,
    pub max_bitrate_bps: u32,
}

/// The camera's layers in a room on the media server, smallest first:
/// quarter, half and full size, so each viewer is sent the one its tile
/// needs (the server reads each one's size from its keyframes). Full is
/// one stream's ceiling, as in a mesh of two; the three stay inside the
/// upload a member is expected to have.
pub const LAYERS: [Layer; 3] = [
    Layer { rid: "q", scale_resolution_down_by: 4.0, max_bitrate_bps: 100_000 },
    Layer { rid: "h", scale_resolution_down_by: 2.0, max_bitrate_bps: 500_000 },
    Layer { rid: "f", scale_resolution_down_by: 1.0, max_bitrate_bps: CEILING_BPS },
];

/// The rate, in kbit/s, at which a video sender starts, where Chromium's
/// own is 300: the highest budget, so the first frames of a call come at
/// 720p instead of being dropped and shrunk while the rate estimate climbs
/// (docs/BENCHMARKS.md, "call setup"). In a bigger room the sender's
/// `maxBitrate` ([`video_budget`]) caps it.
pub const START_KBPS: u32 = CEILING_BPS / 1000;

/// Payload types that carry no video of their own: retransmission and
/// error correction.
const NOT_VIDEO: [&str; 4] = ["rtx", "red", "ulpfec", "flexfec-03"];

/// `sdp` with each video codec asked to start sending at `kbps`
/// (`x-google-start-bitrate`). A sender reads it from the description it
/// receives, so it goes in the offers and answers we send; other browsers
/// ignore a parameter they do not know. Any line ending is kept.
pub fn with_start_bitrate(sdp: &str, kbps: u32) -> String {
    const PARAM: &str = "x-google-start-bitrate=";
    let lines: Vec<&str> = sdp.split_inclusive('\n').collect();
    let eol = if sdp.contains('\r') { "\r\n" } else { "\n" };
    // Bytewise, not `str::contains`: its substring search added 0.7 KB to the page's wasm.
    let has_param = |line: &str| line.as_bytes().windows(PARAM.len()).any(|w| w == PARAM.as_bytes());
    // (media section, payload type) of each video codec, and whether it has an fmtp line.
    let mut codecs: Vec<(usize, &str, bool)> = vec![];
    let (mut section, mut video) = (0, false);
    for line in &lines {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.starts_with("m=") {
            section += 1;
            video = line.starts_with("m=video ");
        } else if let (true, Some(rest)) = (video, line.strip_prefix("a=rtpmap:")) {
            let (pt, codec) = rest.split_once(' ').unwrap_or((rest, ""));
            let name = codec.split('/').next().unwrap_or_default();
            if !NOT_VIDEO.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                codecs.push((section, pt, false));
            }
        } else if let (true, Some(rest)) = (video, line.strip_prefix("a=fmtp:")) {
            let pt = rest.split(' ').next().unwrap_or_default();
            if let Some(codec) = codecs.iter_mut().find(|(s, p, _)| (*s, *p) == (section, pt)) {
                codec.2 = true;
            }
        }
    }
    let value = kbps.to_string();
    let mut out = String::with_capacity(sdp.len() + codecs.len() * 48);
    section = 0;
    for line in lines {
        let bare = line.trim_end_matches(['\r', '\n']);
        section += usize::from(bare.starts_with("m="));
        let of = |prefix: &str| {
            let pt = bare.strip_prefix(prefix)?.split([' ', ':']).next()?;
            codecs.iter().find(|(s, p, _)| (*s, *p) == (section, pt)).copied()
        };
        if of("a=fmtp:").is_some() && !has_param(bare) {
            out.push_str(bare);
            out.push(';');
            out.push_str(PARAM);
            out.push_str(&value);
            // The line's ending, not sliced by index (a panic path in the wasm).
            out.push_str(line.strip_prefix(bare).unwrap_or_default());
            continue;
        }
        out.push_str(line);
        if let Some((_, pt, false)) = of("a=rtpmap:") {
            if !line.ends_with('\n') {
                out.push_str(eol);
            }
            for part in ["a=fmtp:", pt, " ", PARAM, &value, eol] {
                out.push_str(part);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The video part of an offer as Chromium makes it, audio before it.
    const OFFER: &str = "v=0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n\
        a=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\n\
        a=rtpmap:63 red/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=rtcp-fb:96 nack\r\n\
        a=rtpmap:97 rtx/90000\r\n\
        a=fmtp:97 apt=96\r\n\
        a=rtpmap:98 VP9/90000\r\n\
        a=fmtp:98 profile-id=0\r\n\
        a=rtpmap:99 red/90000\r\n\
        a=rtpmap:100 ulpfec/90000\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
        a=sctp-port:5000\r\n";

    #[test]
    fn each_video_codec_starts_at_the_rate_and_nothing_else_changes() {
        let sdp = with_start_bitrate(OFFER, 1500);
        let lines: Vec<&str> = sdp.split("\r\n").collect();
        let after = |line: &str| lines[lines.iter().position(|l| *l == line).expect(line) + 1];
        assert_eq!(after("a=rtpmap:96 VP8/90000"), "a=fmtp:96 x-google-start-bitrate=1500", "VP8 had no fmtp line");
        assert!(lines.contains(&"a=fmtp:98 profile-id=0;x-google-start-bitrate=1500"), "{sdp}");
        assert_eq!(sdp.matches("x-google-start-bitrate").count(), 2, "not rtx, red, ulpfec or audio: {sdp}");
        assert!(sdp.ends_with("a=sctp-port:5000\r\n") && !sdp.contains("\r\n\r\n"), "{sdp:?}");
        assert_eq!(
            sdp.len(),
            OFFER.len() + "a=fmtp:96 x-google-start-bitrate=1500\r\n;x-google-start-bitrate=1500".len()
        );
    }

    #[test]
    fn it_is_added_once_and_line_endings_are_kept() {
        let once = with_start_bitrate(OFFER, START_KBPS);
        assert_eq!(with_start_bitrate(&once, START_KBPS), once);
        let unix = OFFER.replace("\r\n", "\n");
        assert_eq!(with_start_bitrate(&unix, 1500), with_start_bitrate(OFFER, 1500).replace("\r\n", "\n"));
        // A last line without its ending still gets the new line after it.
        let cut = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000";
        assert_eq!(with_start_bitrate(cut, 800), format!("{cut}\r\na=fmtp:96 x-google-start-bitrate=800\r\n"));
        assert_eq!(with_start_bitrate("", 800), "");
    }

    #[test]
    fn a_bigger_room_gets_less_per_stream_but_never_too_little() {
        let budgets: Vec<VideoBudget> = (1..=5).map(video_budget).collect();
        for pair in budgets.windows(2) {
            assert!(pair[1].max_bitrate_bps <= pair[0].max_bitrate_bps);
            assert!(pair[1].scale_resolution_down_by >= pair[0].scale_resolution_down_by);
        }
        assert_eq!(video_budget(1).max_bitrate_bps, CEILING_BPS);
        assert_eq!(video_budget(50).max_bitrate_bps, FLOOR_BPS);
    }

    #[test]
    fn the_layers_grow_and_fit_the_upload() {
        for pair in LAYERS.windows(2) {
            assert!(pair[1].max_bitrate_bps > pair[0].max_bitrate_bps);
            assert!(pair[1].scale_resolution_down_by < pair[0].scale_resolution_down_by);
        }
        assert_eq!(LAYERS[2].scale_resolution_down_by, 1.0);
        assert!(LAYERS.iter().map(|l| l.max_bitrate_bps).sum::<u32>() <= TOTAL_UPLOAD_BPS);
    }

    #[test]
    fn a_room_of_six_stays_inside_the_upload() {
        let five = video_budget(5);
        assert!(five.max_bitrate_bps * 5 <= TOTAL_UPLOAD_BPS);
        assert_eq!(five.scale_resolution_down_by, 2.0);
        assert_eq!(video_budget(0), video_budget(1), "alone: nothing is sent, any budget will do");
    }
}
