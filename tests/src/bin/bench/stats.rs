//! Sample statistics and the small formatting helpers every table uses.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub n: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Stats {
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort();
        let n = s.len();
        let p50 = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2
        };
        // Nearest-rank percentiles.
        let rank = |q: f64| s[((n as f64 * q).ceil() as usize).clamp(1, n) - 1];
        Some(Self {
            n,
            p50,
            p99: rank(0.99),
            min: s[0],
            max: s[n - 1],
        })
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

pub fn verdict(over: bool) -> &'static str {
    if over {
        "OVER"
    } else {
        "ok"
    }
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Stats::of(&samples).unwrap();
        assert_eq!(s.n, 100);
        assert_eq!(s.p50, Duration::from_micros(50_500));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.min, Duration::from_millis(1));
        assert_eq!(s.max, Duration::from_millis(100));
        assert!(Stats::of(&[]).is_none());
    }
}
