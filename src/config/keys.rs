//! One entry a configuration key: its name, what it takes, a help line, whether a running run
//! can take a new value, and how to read and write it. `--set`, preset files, the dashboard's
//! settings panel and its help, and `gradboard presets --keys` all go through this table.

use super::{
    Augment, Choice, ConvInit, DropoutAt, Engine, Label, ModelKind, Norm, OptimizerKind, Precision,
    RunConfig, Schedule, Tta,
};
use crate::{Error, Result};

/// Bounds of a numeric key; an open end excludes its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Lowest value.
    pub lo: f64,
    /// Highest value.
    pub hi: f64,
    /// Whether `lo` itself is excluded.
    pub lo_open: bool,
    /// Whether `hi` itself is excluded.
    pub hi_open: bool,
}

impl Bounds {
    const fn new(lo: f64, hi: f64, lo_open: bool, hi_open: bool) -> Self {
        Bounds {
            lo,
            hi,
            lo_open,
            hi_open,
        }
    }

    /// Whether `v` lies inside.
    pub fn contains(&self, v: f64) -> bool {
        let above = if self.lo_open {
            v > self.lo
        } else {
            v >= self.lo
        };
        let below = if self.hi_open {
            v < self.hi
        } else {
            v <= self.hi
        };
        above && below
    }

    /// "0 to below 1", "above 0 to 10".
    pub fn describe(&self) -> String {
        let lo = format_float(self.lo);
        let hi = format_float(self.hi);
        match (self.lo_open, self.hi_open) {
            (false, false) => format!("{lo} to {hi}"),
            (true, false) => format!("above {lo} to {hi}"),
            (false, true) => format!("{lo} to below {hi}"),
            (true, true) => format!("above {lo} to below {hi}"),
        }
    }
}

/// What kind of value a key takes, for editors and help.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyKind {
    /// One of a fixed list of names.
    Choice(&'static [&'static str]),
    /// A number inside bounds.
    Float(Bounds),
    /// A number inside bounds, or the given word for none.
    OptionalFloat(Bounds, &'static str),
    /// A whole number from `.0` to `.1`.
    Integer(u64, u64),
    /// A whole number from `.0` to `.1`, or the given word for none.
    OptionalInteger(u64, u64, &'static str),
    /// A comma-separated list of whole numbers (widths), possibly empty.
    IntegerList,
}

impl KeyKind {
    /// What the key accepts, as shown in help and errors.
    pub fn describe(&self) -> String {
        match self {
            KeyKind::Choice(names) => names.join(" | "),
            KeyKind::Float(b) => b.describe(),
            KeyKind::OptionalFloat(b, none) => format!("{}, or {none}", b.describe()),
            KeyKind::Integer(lo, hi) if *hi == u64::MAX => format!("{lo} or more"),
            KeyKind::Integer(lo, hi) => format!("{lo} to {hi}"),
            KeyKind::OptionalInteger(lo, hi, none) => {
                format!("{}, or {none}", KeyKind::Integer(*lo, *hi).describe())
            }
            KeyKind::IntegerList => {
                format!("widths 1 to {MAX_WIDTH}, comma-separated, at most {MAX_LAYERS}")
            }
        }
    }
}

type Get<T> = fn(&RunConfig) -> T;
type Put<T> = fn(&mut RunConfig, T);

/// How a key's value is read and written.
#[derive(Clone, Copy)]
enum Access {
    Choice(
        &'static [&'static str],
        &'static [&'static str],
        Get<&'static str>,
        fn(&mut RunConfig, &str) -> Result<()>,
    ),
    Float(Bounds, Get<f64>, Put<f64>),
    OptionalFloat(Bounds, &'static str, Get<Option<f64>>, Put<Option<f64>>),
    Integer(u64, u64, Get<u64>, Put<u64>),
    OptionalInteger(u64, u64, &'static str, Get<Option<u64>>, Put<Option<u64>>),
    List(Get<Vec<usize>>, Put<Vec<usize>>),
}

/// One configuration key.
#[derive(Clone, Copy)]
pub struct KeySpec {
    /// The key's name in presets, `--set` and events.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Whether a running run takes a new value from its next step (otherwise: restart).
    pub live: bool,
    access: Access,
}

impl std::fmt::Debug for KeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySpec")
            .field("name", &self.name)
            .field("kind", &self.kind())
            .field("live", &self.live)
            .finish()
    }
}

/// Widest hidden layer `hidden` accepts.
pub const MAX_WIDTH: usize = 16_384;
/// Most hidden layers `hidden` accepts.
pub const MAX_LAYERS: usize = 16;

macro_rules! choice {
    ($field:ident, $ty:ty, $name:literal) => {
        Access::Choice(
            <$ty>::NAMES,
            <$ty>::HELP,
            |c| c.$field.name(),
            |c, t| {
                c.$field = <$ty>::parse($name, t)?;
                Ok(())
            },
        )
    };
}

/// Every key, in display order.
pub const KEYS: &[KeySpec] = &[
    KeySpec {
        name: "engine",
        help: "manual = hand-written backward (section 1)",
        live: false,
        access: choice!(engine, Engine, "engine"),
    },
    KeySpec {
        name: "model",
        help: "network architecture",
        live: false,
        access: choice!(model, ModelKind, "model"),
    },
    KeySpec {
        name: "hidden",
        help: "MLP hidden widths, e.g. 800,400,200,100",
        live: false,
        access: Access::List(|c| c.hidden.clone(), |c, v| c.hidden = v),
    },
    KeySpec {
        name: "norm",
        help: "normalisation after hidden layers",
        live: false,
        access: choice!(norm, Norm, "norm"),
    },
    KeySpec {
        name: "dropout",
        help: "dropout probability after hidden layers",
        live: true,
        access: Access::Float(
            Bounds::new(0.0, 1.0, false, true),
            |c| c.dropout,
            |c, v| c.dropout = v,
        ),
    },
    KeySpec {
        name: "dropout_at",
        help: "hidden layers dropout follows",
        live: false,
        access: choice!(dropout_at, DropoutAt, "dropout_at"),
    },
    KeySpec {
        name: "neg_slope",
        help: "LeakyReLU negative slope",
        live: false,
        access: Access::Float(
            Bounds::new(0.0, 1.0, false, false),
            |c| c.neg_slope,
            |c, v| c.neg_slope = v,
        ),
    },
    KeySpec {
        name: "optimizer",
        help: "update rule",
        live: false,
        access: choice!(optimizer, OptimizerKind, "optimizer"),
    },
    KeySpec {
        name: "lr",
        help: "learning rate",
        live: true,
        access: Access::Float(
            Bounds::new(0.0, 10.0, true, false),
            |c| c.lr,
            |c, v| c.lr = v,
        ),
    },
    KeySpec {
        name: "momentum",
        help: "momentum (momentum, nesterov, rmsprop)",
        live: true,
        access: Access::Float(
            Bounds::new(0.0, 1.0, false, true),
            |c| c.momentum,
            |c, v| c.momentum = v,
        ),
    },
    KeySpec {
        name: "weight_decay",
        help: "L2 penalty (decoupled for adamw)",
        live: true,
        access: Access::Float(
            Bounds::new(0.0, 1.0, false, false),
            |c| c.weight_decay,
            |c, v| c.weight_decay = v,
        ),
    },
    KeySpec {
        name: "norm_bias_lr",
        help: "lr multiple of batch norm shifts (their decay / it)",
        live: true,
        access: Access::Float(
            Bounds::new(0.0, 1000.0, true, false),
            |c| c.norm_bias_lr,
            |c, v| c.norm_bias_lr = v,
        ),
    },
    KeySpec {
        name: "init_std",
        help: "Linear weight std, or the default init",
        live: false,
        access: Access::OptionalFloat(
            Bounds::new(0.0, 10.0, true, false),
            "default",
            |c| c.init_std,
            |c, v| c.init_std = v,
        ),
    },
    KeySpec {
        name: "conv_init",
        help: "convnet filters: drawn, or identity after the first conv (dirac)",
        live: false,
        access: choice!(conv_init, ConvInit, "conv_init"),
    },
    KeySpec {
        name: "precision",
        help: "products of convs and linear layers: f32, or bf16 operands summed in f32",
        live: false,
        access: choice!(precision, Precision, "precision"),
    },
    KeySpec {
        name: "batch_size",
        help: "images per step",
        live: false,
        access: Access::Integer(
            1,
            50_000,
            |c| c.batch_size as u64,
            |c, v| c.batch_size = v as usize,
        ),
    },
    KeySpec {
        name: "steps",
        help: "training steps",
        live: false,
        access: Access::Integer(
            1,
            10_000_000,
            |c| c.steps as u64,
            |c, v| c.steps = v as usize,
        ),
    },
    KeySpec {
        name: "eval_every",
        help: "steps between test evaluations",
        live: false,
        access: Access::Integer(
            1,
            10_000_000,
            |c| c.eval_every as u64,
            |c, v| c.eval_every = v as usize,
        ),
    },
    KeySpec {
        name: "seed",
        help: "seed of every random source",
        live: false,
        access: Access::Integer(0, u64::MAX, |c| c.seed, |c, v| c.seed = v),
    },
    KeySpec {
        name: "schedule",
        help: "learning-rate schedule (after the warm-up)",
        live: false,
        access: choice!(schedule, Schedule, "schedule"),
    },
    KeySpec {
        name: "warmup_steps",
        help: "steps of linear warm-up (onecycle: its rise, 0 = 30%)",
        live: false,
        access: Access::Integer(
            0,
            10_000_000,
            |c| c.warmup_steps as u64,
            |c, v| c.warmup_steps = v as usize,
        ),
    },
    KeySpec {
        name: "decay_every",
        help: "step schedule: steps between decays",
        live: false,
        access: Access::Integer(
            1,
            10_000_000,
            |c| c.decay_every as u64,
            |c, v| c.decay_every = v as usize,
        ),
    },
    KeySpec {
        name: "decay_factor",
        help: "step schedule: lr factor at each decay",
        live: false,
        access: Access::Float(
            Bounds::new(0.0, 1.0, true, false),
            |c| c.decay_factor,
            |c, v| c.decay_factor = v,
        ),
    },
    KeySpec {
        name: "label_smoothing",
        help: "training target mass spread over all classes",
        live: true,
        access: Access::Float(
            Bounds::new(0.0, 1.0, false, true),
            |c| c.label_smoothing,
            |c, v| c.label_smoothing = v,
        ),
    },
    KeySpec {
        name: "clip_norm",
        help: "global gradient-norm limit, or off",
        live: true,
        access: Access::OptionalFloat(
            Bounds::new(0.0, 1e6, true, false),
            "off",
            |c| c.clip_norm,
            |c, v| c.clip_norm = v,
        ),
    },
    KeySpec {
        name: "augment",
        help: "training images: random or alternating mirror, 4-pixel crop",
        live: false,
        access: choice!(augment, Augment, "augment"),
    },
    KeySpec {
        name: "tta",
        help: "evaluate each test image and its mirror (flip), and moved 1 px (flip-shift)",
        live: true,
        access: choice!(tta, Tta, "tta"),
    },
    KeySpec {
        name: "lookahead",
        help: "steps between lookahead pulls to the weights' moving average (airbench's), 0 = off",
        live: false,
        access: Access::Integer(
            0,
            1_000_000,
            |c| c.lookahead as u64,
            |c, v| c.lookahead = v as usize,
        ),
    },
    KeySpec {
        name: "early_stop",
        help: "evaluations without a new best before stopping, or off",
        live: false,
        access: Access::OptionalInteger(
            1,
            1_000_000,
            "off",
            |c| c.early_stop.map(|v| v as u64),
            |c, v| c.early_stop = v.map(|v| v as usize),
        ),
    },
    KeySpec {
        name: "diag_every",
        help: "steps between per-layer statistics (the layers screen), 0 = off",
        live: true,
        access: Access::Integer(
            0,
            10_000_000,
            |c| c.diag_every as u64,
            |c, v| c.diag_every = v as usize,
        ),
    },
    KeySpec {
        name: "val_split",
        help: "training images held out for validation (seeded), 0 = none",
        live: false,
        access: Access::Integer(
            0,
            1_000_000,
            |c| c.val_split as u64,
            |c, v| c.val_split = v as usize,
        ),
    },
    KeySpec {
        name: "image_size",
        help: "side the images are resized to (square), or own: the data's own size",
        live: false,
        access: Access::OptionalInteger(
            2,
            1024,
            "own",
            |c| c.image_size.map(|v| v as u64),
            |c, v| c.image_size = v.map(|v| v as usize),
        ),
    },
    KeySpec {
        name: "channels",
        help: "1 (grey) or 3 (colour): the images converted, or own: the data's own",
        live: false,
        access: Access::OptionalInteger(
            1,
            3,
            "own",
            |c| c.channels.map(|v| v as u64),
            |c, v| c.channels = v.map(|v| v as usize),
        ),
    },
    KeySpec {
        name: "label",
        help: "CIFAR-100's labels: fine (100 classes) or coarse (20)",
        live: false,
        access: choice!(label, Label, "label"),
    },
    KeySpec {
        name: "test_split",
        help: "images held out as the test set of one class-folder tree (a fixed draw)",
        live: false,
        access: Access::Integer(
            0,
            10_000_000,
            |c| c.test_split as u64,
            |c, v| c.test_split = v as usize,
        ),
    },
];

/// The table entry of `name`, or an error listing the keys.
pub fn key(name: &str) -> Result<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name).ok_or_else(|| {
        Error::Config(format!(
            "unknown key {name:?}; keys: {}",
            KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
        ))
    })
}

fn range_error(key: &str, value: impl std::fmt::Display, allowed: &str) -> Error {
    Error::Config(format!(
        "{key}: {value} is out of range; allowed: {allowed}"
    ))
}

fn parse_float(key: &str, text: &str, bounds: Bounds) -> Result<f64> {
    let v = text
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| Error::Config(format!("{key}: expected a number, got {text:?}")))?;
    if !bounds.contains(v) {
        return Err(range_error(key, v, &bounds.describe()));
    }
    Ok(v)
}

fn parse_whole(key: &str, text: &str) -> Result<u64> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| Error::Config(format!("{key}: expected a whole number >= 0, got {text:?}")))
}

/// A whole number from `lo` to `hi`.
fn parse_in(key: &str, text: &str, lo: u64, hi: u64) -> Result<u64> {
    let v = parse_whole(key, text)?;
    if v < lo || v > hi {
        let allowed = KeyKind::Integer(lo, hi).describe();
        return Err(range_error(key, v, &allowed));
    }
    Ok(v)
}

fn parse_widths(key: &str, text: &str) -> Result<Vec<usize>> {
    let text = text.trim_start_matches('[').trim_end_matches(']').trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let widths = text
        .split(',')
        .map(|w| match w.trim().parse::<usize>() {
            Ok(w) if w >= 1 => Ok(w),
            _ => Err(Error::Config(format!(
                "{key}: expected widths >= 1 separated by commas, e.g. 800,400,200,100; got {text:?}"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    if widths.iter().any(|&w| w > MAX_WIDTH) || widths.len() > MAX_LAYERS {
        return Err(range_error(
            key,
            text,
            &format!("at most {MAX_LAYERS} layers of at most {MAX_WIDTH} units"),
        ));
    }
    Ok(widths)
}

impl KeySpec {
    /// A choice key's values' help (each value's doc comment), in its values' order; empty
    /// for other keys.
    pub fn choice_help(&self) -> &'static [&'static str] {
        match self.access {
            Access::Choice(_, help, ..) => help,
            _ => &[],
        }
    }

    /// What the key takes.
    pub fn kind(&self) -> KeyKind {
        match self.access {
            Access::Choice(names, ..) => KeyKind::Choice(names),
            Access::Float(b, ..) => KeyKind::Float(b),
            Access::OptionalFloat(b, none, ..) => KeyKind::OptionalFloat(b, none),
            Access::Integer(lo, hi, ..) => KeyKind::Integer(lo, hi),
            Access::OptionalInteger(lo, hi, none, ..) => KeyKind::OptionalInteger(lo, hi, none),
            Access::List(..) => KeyKind::IntegerList,
        }
    }

    /// Sets the key from its text form, checking the value on its own.
    pub fn set(&self, config: &mut RunConfig, text: &str) -> Result<()> {
        let text = text.trim();
        let name = self.name;
        match self.access {
            Access::Choice(_, _, _, put) => put(config, text)?,
            Access::Float(b, _, put) => put(config, parse_float(name, text, b)?),
            Access::OptionalFloat(b, none, _, put) => {
                let value = match text {
                    "" | "none" | "off" | "default" => None,
                    t if t == none => None,
                    t => Some(
                        parse_float(name, t, b)
                            .map_err(|e| Error::Config(format!("{e}, or {none}")))?,
                    ),
                };
                put(config, value)
            }
            Access::Integer(lo, hi, _, put) => put(config, parse_in(name, text, lo, hi)?),
            Access::OptionalInteger(lo, hi, none, _, put) => {
                let value = match text {
                    "" | "none" | "off" => None,
                    t if t == none => None,
                    t => Some(
                        parse_in(name, t, lo, hi)
                            .map_err(|e| Error::Config(format!("{e}, or {none}")))?,
                    ),
                };
                put(config, value)
            }
            Access::List(_, put) => put(config, parse_widths(name, text)?),
        }
        Ok(())
    }

    /// The value's text form, as `set` reads it back.
    pub fn get(&self, config: &RunConfig) -> String {
        match self.access {
            Access::Choice(_, _, get, _) => get(config).to_string(),
            Access::Float(_, get, _) => format_float(get(config)),
            Access::OptionalFloat(_, none, get, _) => {
                get(config).map(format_float).unwrap_or_else(|| none.into())
            }
            Access::Integer(_, _, get, _) => get(config).to_string(),
            Access::OptionalInteger(_, _, none, get, _) => get(config)
                .map(|v| v.to_string())
                .unwrap_or_else(|| none.into()),
            Access::List(get, _) => get(config)
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The value as JSON: numbers as numbers, the rest as their text.
    pub fn json(&self, config: &RunConfig) -> serde_json::Value {
        match self.access {
            Access::Float(_, get, _) => serde_json::json!(get(config)),
            Access::OptionalFloat(_, _, get, _) => match get(config) {
                Some(v) => serde_json::json!(v),
                None => serde_json::Value::Null,
            },
            Access::Integer(_, _, get, _) => serde_json::json!(get(config)),
            Access::OptionalInteger(_, _, _, get, _) => match get(config) {
                Some(v) => serde_json::json!(v),
                None => serde_json::Value::Null,
            },
            _ => serde_json::Value::String(self.get(config)),
        }
    }

    /// A choice key's values with what each means; empty for other keys.
    pub fn value_help(&self) -> Vec<(&'static str, String)> {
        match self.access {
            Access::Choice(names, help, ..) => names
                .iter()
                .zip(help)
                .map(|(n, h)| (*n, h.split_whitespace().collect::<Vec<_>>().join(" ")))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Sets the key from the JSON `json` wrote (a `set` event's value): numbers, text, and
    /// null for an optional key's none.
    pub fn set_json(&self, config: &mut RunConfig, value: &serde_json::Value) -> Result<()> {
        self.set(config, &json_text(value))
    }
}

/// Short text for a float: plain for ordinary values, scientific for small or large ones.
pub fn format_float(v: f64) -> String {
    if v != 0.0 && v.is_finite() && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A JSON value of a key as the key's text: strings as they are, null as `none` (which every
/// optional key reads as its none), numbers as written.
pub fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".to_string(),
        other => other.to_string(),
    }
}
