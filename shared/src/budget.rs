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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_room_of_six_stays_inside_the_upload() {
        let five = video_budget(5);
        assert!(five.max_bitrate_bps * 5 <= TOTAL_UPLOAD_BPS);
        assert_eq!(five.scale_resolution_down_by, 2.0);
        assert_eq!(video_budget(0), video_budget(1), "alone: nothing is sent, any budget will do");
    }
}
