//! The space a search draws settings from: one axis a swept key, a number range (uniform or
//! log-uniform, real or whole) or a list of choices. A point holds one value an axis: the
//! number itself, or the index of the choice.

use rand::Rng;

/// The values one key may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A number from `lo` to `hi`; log-uniform when `log`, whole numbers when `int`.
    Number {
        /// Lowest value.
        lo: f64,
        /// Highest value.
        hi: f64,
        /// Drawn uniformly in log space.
        log: bool,
        /// Whole numbers only.
        int: bool,
    },
    /// One of these values, as the key's text.
    Choice(Vec<String>),
}

/// One axis of the space.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The configuration key.
    pub key: String,
    /// Its values.
    pub domain: Domain,
}

/// A point of the space: each axis's number, or its choice's index.
pub type Point = Vec<f64>;

/// The axes of a search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Space {
    /// One a swept key, in order.
    pub params: Vec<Param>,
}

impl Space {
    /// A uniform draw (log-uniform on log axes; every whole number and every choice equally
    /// likely), on the values text keeps (`round`).
    pub fn random(&self, rng: &mut impl Rng) -> Point {
        let point: Point = self
            .params
            .iter()
            .map(|p| match &p.domain {
                Domain::Number { lo, hi, log, int } => {
                    let (lo, hi) = if *int {
                        (lo - 0.5, hi + 0.5)
                    } else {
                        (*lo, *hi)
                    };
                    let u: f64 = rng.random_range(0.0..=1.0);
                    if *log {
                        (lo.ln() + u * (hi.ln() - lo.ln())).exp()
                    } else {
                        lo + u * (hi - lo)
                    }
                }
                Domain::Choice(values) => rng.random_range(0..values.len()) as f64,
            })
            .collect();
        self.round(&point)
    }

    /// The point as written: whole numbers rounded, real numbers to 4 significant digits,
    /// each inside its range.
    pub fn round(&self, point: &[f64]) -> Point {
        self.params
            .iter()
            .zip(point)
            .map(|(p, &v)| match &p.domain {
                Domain::Number { lo, hi, int, .. } => {
                    let v = if *int { v.round() } else { significant(v) };
                    v.clamp(*lo, *hi)
                }
                Domain::Choice(values) => v.round().clamp(0.0, (values.len() - 1) as f64),
            })
            .collect()
    }

    /// Each axis's key and value as the key's text.
    pub fn text(&self, point: &[f64]) -> Vec<(String, String)> {
        self.params
            .iter()
            .zip(point)
            .map(|(p, &v)| {
                let text = match &p.domain {
                    Domain::Number { int: true, .. } => format!("{}", v.round() as i64),
                    Domain::Number { .. } => format!("{}", significant(v)),
                    Domain::Choice(values) => values[v as usize].clone(),
                };
                (p.key.clone(), text)
            })
            .collect()
    }

    /// The point of written settings (`text`'s inverse); `None` when a key is missing or a
    /// value is not in the space.
    pub fn read(&self, settings: &[(String, String)]) -> Option<Point> {
        self.params
            .iter()
            .map(|p| {
                let text = &settings.iter().find(|(k, _)| *k == p.key)?.1;
                match &p.domain {
                    Domain::Number { lo, hi, .. } => text
                        .parse::<f64>()
                        .ok()
                        .filter(|v| *v >= lo - 1e-9 * lo.abs() && *v <= hi + 1e-9 * hi.abs()),
                    Domain::Choice(values) => {
                        values.iter().position(|v| v == text).map(|i| i as f64)
                    }
                }
            })
            .collect()
    }
}

/// `v` rounded to 4 significant digits (drawn values stay readable in tables).
pub fn significant(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 3 - v.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn space() -> Space {
        Space {
            params: vec![
                Param {
                    key: "lr".into(),
                    domain: Domain::Number {
                        lo: 1e-4,
                        hi: 1e-1,
                        log: true,
                        int: false,
                    },
                },
                Param {
                    key: "batch_size".into(),
                    domain: Domain::Number {
                        lo: 16.0,
                        hi: 18.0,
                        log: false,
                        int: true,
                    },
                },
                Param {
                    key: "optimizer".into(),
                    domain: Domain::Choice(vec!["sgd".into(), "adam".into()]),
                },
            ],
        }
    }

    #[test]
    fn draws_cover_each_axis_and_read_back_from_their_text() {
        let s = space();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut ints = [0usize; 3];
        let mut low_decade = 0;
        for _ in 0..3000 {
            let p = s.random(&mut rng);
            assert!((1e-4..=1e-1).contains(&p[0]));
            if p[0] < 1e-3 {
                low_decade += 1;
            }
            ints[(p[1] - 16.0) as usize] += 1;
            assert_eq!(s.read(&s.text(&p)), Some(p));
        }
        // Log-uniform: a third of the draws in each decade.
        assert!((800..1200).contains(&low_decade), "{low_decade}");
        // Every whole number equally likely, the ends included.
        assert!(ints.iter().all(|&n| (850..1150).contains(&n)), "{ints:?}");
    }

    #[test]
    fn a_value_outside_the_space_does_not_read() {
        let s = space();
        let text = |lr: &str| {
            vec![
                ("lr".to_string(), lr.to_string()),
                ("batch_size".to_string(), "17".to_string()),
                ("optimizer".to_string(), "adam".to_string()),
            ]
        };
        assert!(s.read(&text("0.01")).is_some());
        assert!(s.read(&text("0.5")).is_none());
        assert!(s.read(&text("x")).is_none());
    }
}
