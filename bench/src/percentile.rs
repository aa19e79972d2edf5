//! Nearest-rank percentiles, for the report and the hand-run measures in
//! `src/bin/` (which include this file).

/// The nearest-rank `p` percentile (0 < p ≤ 1) of an ascending slice.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}
