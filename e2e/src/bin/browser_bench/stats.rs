//! Medians and ranges of the runs' milestones, and how the report prints them.

use crate::Marks;

pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

pub fn stats(values: impl IntoIterator<Item = f64>) -> Option<Stats> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some(Stats { median, min: v[0], max: v[n - 1], n })
}

pub fn column<'a>(runs: impl IntoIterator<Item = &'a Marks>, key: &str) -> Option<Stats> {
    stats(runs.into_iter().filter_map(|m| m.get(key).copied()))
}

pub fn ms(s: &Option<Stats>) -> String {
    match s {
        Some(s) => format!("{:.0} ms ({:.0}–{:.0})", s.median, s.min, s.max),
        None => "–".into(),
    }
}

pub fn median_ms(s: &Option<Stats>) -> String {
    match s {
        // (+ 0.0: no "-0")
        Some(s) if s.n > 0 => format!("{:.0}", s.median.round() + 0.0),
        _ => "–".into(),
    }
}
