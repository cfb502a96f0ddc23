//! The fixed scale of each per-layer statistic and the band where a healthy network's values
//! sit, so that every run is coloured alike and a value out of its band shows at a glance
//! (the layers screen and `layers.png` draw the same). Log statistics are in log10 units.
//! The bands are rules of thumb, wider than the warnings' thresholds (`watch`): an update
//! ratio near 1e-3 (Karpathy's), activations of unit order, few units that never fire.

/// A statistic's scale: its ends and its healthy band, in the units it is drawn in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Whether values are drawn as log10.
    pub log: bool,
    /// The bottom of the scale.
    pub lo: f64,
    /// The top.
    pub hi: f64,
    /// The healthy band (low, high).
    pub healthy: (f64, f64),
}

/// A step's change over the weights' norm: 1e-6 .. 1, healthy 1e-4 .. 1e-2.
pub const UPDATE_RATIO: Scale = Scale {
    log: true,
    lo: -6.0,
    hi: 0.0,
    healthy: (-4.0, -2.0),
};
/// A tensor's gradient norm: 1e-6 .. 1e2, healthy 1e-4 .. 10.
pub const GRAD_NORM: Scale = Scale {
    log: true,
    lo: -6.0,
    hi: 2.0,
    healthy: (-4.0, 1.0),
};
/// A tensor's norm: 1e-2 .. 1e3, healthy 0.1 .. 100.
pub const WEIGHT_NORM: Scale = Scale {
    log: true,
    lo: -2.0,
    hi: 3.0,
    healthy: (-1.0, 2.0),
};
/// A hidden layer's output spread: 1e-3 .. 1e3, healthy 0.1 .. 10 (`watch` warns from 1e2).
pub const ACT_STD: Scale = Scale {
    log: true,
    lo: -3.0,
    hi: 3.0,
    healthy: (-1.0, 1.0),
};
/// The fraction of a layer's units that never fire: 0 .. 1, healthy below 0.1 (`watch` warns
/// from 0.5).
pub const DEAD: Scale = Scale {
    log: false,
    lo: 0.0,
    hi: 1.0,
    healthy: (0.0, 0.1),
};

impl Scale {
    /// A value (in drawn units) as a fraction of the scale, clamped to 0..1.
    pub fn fraction(&self, v: f64) -> f64 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }

    /// Whether a drawn value lies in the healthy band.
    pub fn healthy(&self, v: f64) -> bool {
        v >= self.healthy.0 && v <= self.healthy.1
    }

    /// A drawn value as text: `1e-3` for log statistics, `0.10` for fractions.
    pub fn text(&self, v: f64) -> String {
        if self.log {
            format!("1e{}", v.round() as i64)
        } else {
            format!("{v:.2}")
        }
    }

    /// The scale in words: `1e-6 .. 1e0, healthy 1e-4 .. 1e-2`.
    pub fn describe(&self) -> String {
        format!(
            "{} .. {}, healthy {} .. {}",
            self.text(self.lo),
            self.text(self.hi),
            self.text(self.healthy.0),
            self.text(self.healthy.1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_hold_their_bands_and_the_warnings_lie_outside_them() {
        for s in [UPDATE_RATIO, GRAD_NORM, WEIGHT_NORM, ACT_STD, DEAD] {
            assert!(s.lo < s.healthy.0 || (s.lo == s.healthy.0 && !s.log));
            assert!(s.healthy.0 < s.healthy.1 && s.healthy.1 < s.hi);
            assert_eq!(s.fraction(s.lo - 5.0), 0.0);
            assert_eq!(s.fraction(s.hi + 5.0), 1.0);
        }
        use crate::diag::watch::{ACT_STD_HIGH, DEAD as DEAD_WARN, RATIO_HIGH, RATIO_LOW};
        assert!(
            !UPDATE_RATIO.healthy(RATIO_LOW.log10()) && !UPDATE_RATIO.healthy(RATIO_HIGH.log10())
        );
        assert!(UPDATE_RATIO.healthy(-3.0));
        assert!(!ACT_STD.healthy(ACT_STD_HIGH.log10()));
        assert!(!DEAD.healthy(DEAD_WARN));
        assert_eq!(UPDATE_RATIO.describe(), "1e-6 .. 1e0, healthy 1e-4 .. 1e-2");
    }
}
