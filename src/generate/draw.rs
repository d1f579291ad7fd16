//! Random draws of the generator: counts, delays, amounts and times of day.

use chrono::{DateTime, Duration, Utc};
use lodestar_core::money::Micros;
use rand::Rng;
use rand::rngs::StdRng;

/// A Poisson draw: exact for small means, normal approximation above 30.
pub(super) fn poisson(rng: &mut StdRng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    if mean < 30.0 {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p: f64 = rng.random();
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        return k;
    }
    (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u64
}

fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(super) fn pick_weighted<T: Copy>(rng: &mut StdRng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for &(item, w) in items {
        if x < w {
            return item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// A uniform delay between `min` and `max` days, to the second.
pub(super) fn days_later(rng: &mut StdRng, t: DateTime<Utc>, min: f64, max: f64) -> DateTime<Utc> {
    t + Duration::seconds((rng.random_range(min..max) * 86_400.0) as i64)
}

/// Whole currency units with cents, as micros.
pub(super) fn money(amount: f64) -> Micros {
    Micros((amount * 100.0).round() as i64 * 10_000)
}

/// Seconds into a day: mostly office hours across Europe and the Americas, some at any time.
pub(super) fn time_of_day(rng: &mut StdRng) -> Duration {
    let secs = if rng.random_bool(0.8) {
        rng.random_range(8 * 3600..21 * 3600)
    } else {
        rng.random_range(0..86_400)
    };
    Duration::seconds(secs)
}
