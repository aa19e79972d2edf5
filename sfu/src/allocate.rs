//! Sharing one subscriber's downlink among the videos it is sent. The SFU's
//! estimate of what reaches the subscriber (str0m's bandwidth estimation,
//! from its transport-wide feedback) is spent in order of importance: the
//! speaker's video, then the largest tiles'. First each video gets its
//! smallest layer, or is paused when even that does not fit (never the
//! speaker's nor the spotlight's); then each climbs toward the layer that
//! fills its tile while there is room. Audio is not in it: it is never
//! dropped for video.

use crate::layers::Allowance;
use std::cmp::Reverse;

/// One video a subscriber is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Demand {
    /// Served first: the speaker's, then by the size its tile is drawn at.
    pub(crate) rank: (bool, u32),
    /// Never paused: the speaker's and the spotlight's.
    pub(crate) protected: bool,
    /// Its layers, smallest first, up to the one that fills its tile: pixels and bits a second.
    pub(crate) options: Vec<(u32, u64)>,
}

/// What each of `demands` may take of `budget` bits a second, and the
/// bits a second that makes.
pub(crate) fn allocate(budget: u64, demands: &[Demand]) -> (Vec<Allowance>, u64) {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_unstable_by_key(|&i| (Reverse(demands[i].rank), i));
    // The index of the option each is given.
    let mut given: Vec<Option<usize>> = vec![None; demands.len()];
    let mut spent = 0;
    for &i in &order {
        let Some(&(_, bps)) = demands[i].options.first() else { continue };
        if spent + bps <= budget || demands[i].protected {
            given[i] = Some(0);
            spent += bps;
        }
    }
    for &i in &order {
        let (Some(mut at), options) = (given[i], &demands[i].options) else { continue };
        while let Some(&(_, bps)) = options.get(at + 1) {
            let extra = bps.saturating_sub(options[at].1);
            if spent + extra > budget {
                break;
            }
            spent += extra;
            at += 1;
        }
        given[i] = Some(at);
    }
    let allowances = demands
        .iter()
        .zip(given)
        .map(|(demand, given)| match given {
            // Wants nothing (hidden): nothing to hold back.
            None if demand.options.is_empty() => Allowance::Any,
            None => Allowance::Paused,
            Some(at) if at + 1 == demand.options.len() => Allowance::Any,
            Some(at) => Allowance::UpTo(demand.options[at].0),
        })
        .collect();
    (allowances, spent)
}

/// What `allowances` spend of `demands`' layers, and the least more that
/// would give one of them a layer more (`None`: each has what fills its tile).
pub(crate) fn step_up(demands: &[Demand], allowances: &[Allowance]) -> (u64, Option<u64>) {
    let mut spent = 0;
    let mut least = None::<u64>;
    for (demand, &allowance) in demands.iter().zip(allowances) {
        let given = demand.options.iter().rposition(|&(pixels, _)| allowance.admits(pixels));
        let now = given.map_or(0, |at| demand.options[at].1);
        spent += now;
        // (A larger layer may measure less for a while: rates are measured.)
        if let Some(extra) = demand.options.get(given.map_or(0, |at| at + 1)).map(|&(_, up)| up.saturating_sub(now)) {
            least = Some(least.map_or(extra, |least| least.min(extra)));
        }
    }
    (spent, least)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: (u32, u64) = (320 * 180, 150_000);
    const H: (u32, u64) = (640 * 360, 500_000);
    const F: (u32, u64) = (1280 * 720, 1_500_000);

    fn demand(speaker: bool, area: u32, protected: bool, options: &[(u32, u64)]) -> Demand {
        Demand { rank: (speaker, area), protected, options: options.to_vec() }
    }

    #[test]
    fn room_enough_gives_each_what_fills_its_tile() {
        let demands = [demand(false, 900_000, true, &[Q, H, F]), demand(false, 60_000, false, &[Q])];
        assert_eq!(allocate(5_000_000, &demands), (vec![Allowance::Any, Allowance::Any], 1_650_000));
    }

    #[test]
    fn a_short_link_drops_the_large_tile_a_layer_before_pausing_anyone() {
        let demands = [demand(false, 900_000, true, &[Q, H, F]), demand(false, 60_000, false, &[Q])];
        let (allowances, spent) = allocate(1_000_000, &demands);
        assert_eq!(allowances, [Allowance::UpTo(H.0), Allowance::Any]);
        assert_eq!(spent, 650_000);
    }

    #[test]
    fn the_least_important_is_paused_first_but_never_the_speaker_or_spotlight() {
        let demands = [
            demand(false, 60_000, false, &[Q]),
            demand(true, 60_000, true, &[Q]),
            demand(false, 900_000, true, &[Q, H, F]),
            demand(false, 70_000, false, &[Q]),
        ];
        let (allowances, _) = allocate(450_000, &demands);
        // The speaker, the spotlight, then the larger of the two small tiles.
        assert_eq!(allowances, [Allowance::Paused, Allowance::Any, Allowance::UpTo(Q.0), Allowance::Any]);
        let (allowances, spent) = allocate(0, &demands);
        assert_eq!(allowances, [Allowance::Paused, Allowance::Any, Allowance::UpTo(Q.0), Allowance::Paused]);
        assert_eq!(spent, 300_000, "the protected two stay on their smallest layers, over the budget");
    }

    #[test]
    fn a_step_up_is_the_cheapest_layer_more_for_anyone() {
        let demands = [demand(false, 900_000, true, &[Q, H, F]), demand(false, 60_000, false, &[Q])];
        let (allowances, spent) = allocate(450_000, &demands);
        assert_eq!(allowances, [Allowance::UpTo(Q.0), Allowance::Any]);
        assert_eq!(step_up(&demands, &allowances), (spent, Some(H.1 - Q.1)));
        assert_eq!(step_up(&demands, &[Allowance::UpTo(Q.0), Allowance::Paused]), (Q.1, Some(Q.1)));
        assert_eq!(step_up(&demands, &[Allowance::Any, Allowance::Any]), (F.1 + Q.1, None));
    }

    #[test]
    fn a_video_nobody_draws_takes_nothing() {
        let demands = [demand(false, 0, false, &[]), demand(false, 60_000, false, &[Q])];
        assert_eq!(allocate(150_000, &demands), (vec![Allowance::Any, Allowance::Any], 150_000));
    }
}
