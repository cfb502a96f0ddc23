//! The run configuration: DESIGN.md's keys, loaded from a preset TOML and overridden by
//! `key=value` strings. Every key is described once, in `keys::KEYS`; parsing, validation,
//! preset loading, the settings panel and `gradboard presets --keys` all read that table.

mod choice;
pub mod keys;
pub mod net;
mod presets;
pub mod sweep;

pub use choice::Choice;
pub use keys::{format_float, json_text, key, KeyKind, KeySpec, KEYS};
pub use presets::{Preset, PresetDirs, PRESETS_ENV};

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

choice::choice_enum! {
    /// Which implementation trains the network.
    Engine {
        /// Section 1: modules with hand-written backward passes, no autograd.
        Manual = "manual",
        /// Sections 2-4: candle's autograd.
        Autograd = "autograd",
    }
}

choice::choice_enum! {
    /// The network architecture.
    ModelKind {
        /// A multi-layer perceptron on flattened images.
        Mlp = "mlp",
        /// The small VGG of section 4.
        Convnet = "convnet",
        /// A network described as data (`net`: a name in presets/nets/, a file, or a table).
        Net = "net",
    }
}

choice::choice_enum! {
    /// Normalisation after each hidden Linear (or conv) layer.
    Norm {
        /// No normalisation.
        None = "none",
        /// Batch norm as PyTorch's BatchNorm1d/2d (batch statistics in training, running ones
        /// after): on the CPU one fused kernel with its backward written by hand, elsewhere
        /// candle-nn's ops with autograd; the same math, checked against each other by gradcheck.
        Batchnorm = "batchnorm",
        /// Section 3's batch norm built from tensor ops, its backward derived by autograd (MLP
        /// only; every device).
        CustomAutograd = "custom-autograd",
        /// Section 3's batch norm as one op whose backward is written by hand (MLP only; the
        /// CPU only: other devices refuse it).
        CustomManual = "custom-manual",
    }
}

choice::choice_enum! {
    /// Which hidden layers of the MLP dropout follows.
    DropoutAt {
        /// Every hidden layer but the last (the report's final network).
        AllButLast = "all-but-last",
        /// Every hidden layer.
        All = "all",
    }
}

choice::choice_enum! {
    /// The optimizer.
    OptimizerKind {
        /// Plain stochastic gradient descent.
        Sgd = "sgd",
        /// SGD with heavy-ball momentum (PyTorch's formula).
        Momentum = "momentum",
        /// SGD with Nesterov momentum (PyTorch's formula: the step is the gradient plus
        /// momentum times the new buffer).
        Nesterov = "nesterov",
        /// Adam.
        Adam = "adam",
        /// Adam with decoupled weight decay.
        Adamw = "adamw",
        /// RMSprop.
        Rmsprop = "rmsprop",
    }
}

choice::choice_enum! {
    /// How the learning rate moves over a run (after `warmup_steps` of linear warm-up).
    Schedule {
        /// `lr` throughout.
        Constant = "constant",
        /// `lr` times `decay_factor` every `decay_every` steps.
        Step = "step",
        /// Half a cosine from `lr` down to 0 at the last step.
        Cosine = "cosine",
        /// A straight line from `lr` down to 0 at the last step.
        Linear = "linear",
        /// One cycle: up from lr/25 to `lr` over the warm-up (30% of the run when
        /// `warmup_steps` is 0), then a cosine down to lr/250000 (PyTorch's OneCycleLR).
        Onecycle = "onecycle",
        /// airbench's triangle: up in a straight line from lr/5 to `lr` over the warm-up (23%
        /// of the run when `warmup_steps` is 0), then down in a straight line to 0.07 lr at
        /// the last step.
        Triangle = "triangle",
    }
}

choice::choice_enum! {
    /// Random changes to each training image, drawn per batch from the run's seed.
    Augment {
        /// The images as they are.
        None = "none",
        /// Mirror left-right with probability 1/2.
        Flip = "flip",
        /// Mirror each image in every other epoch (its first epoch mirrored or not by a coin of
        /// its own), so that consecutive epochs show it both ways.
        AltFlip = "alt-flip",
        /// A random 32x32 crop of the image padded by 4 pixels, then the flip.
        CropFlip = "crop-flip",
        /// alt-flip, and each image moved by up to 2 pixels each way (a random crop of the
        /// image padded by 2 pixels of zeros), drawn anew every time it is seen (airbench's).
        AltFlipTranslate = "alt-flip-translate",
    }
}

choice::choice_enum! {
    /// The number format of the convolutions' and linear layers' products (weights, losses,
    /// batch norm, softmax and the optimizer stay f32: PyTorch's CPU autocast list).
    Precision {
        /// f32 operands and sums.
        F32 = "f32",
        /// Operands rounded to bf16 (nearest even), products summed in f32: on tiles of bf16
        /// pairs (AMX, else AVX512_BF16) where the CPU has them, else the same rounding on the
        /// f32 kernels.
        Bf16 = "bf16",
    }
}

choice::choice_enum! {
    /// How the convnet's convolution filters start.
    ConvInit {
        /// Every filter drawn as PyTorch draws it (`init_std` aside).
        Default = "default",
        /// Each convolution after the first starts as the identity on its input's channels
        /// (filter i passes channel i through its centre tap); filters beyond those are drawn.
        Dirac = "dirac",
    }
}

choice::choice_enum! {
    /// Which of CIFAR-100's labels a run learns.
    Label {
        /// The 100 fine classes.
        Fine = "fine",
        /// The 20 coarse superclasses.
        Coarse = "coarse",
    }
}

choice::choice_enum! {
    /// Test-time augmentation for evaluations.
    Tta {
        /// Each test image once.
        None = "none",
        /// The mean of the logits of each test image and its mirror image.
        Flip = "flip",
        /// The mean of the logits of each test image, its mirror image, and both moved one
        /// pixel up-left and down-right (six views; the unmoved pair weighs half).
        FlipShift = "flip-shift",
    }
}

/// Everything that defines one training run. A key missing from a stored file takes its
/// default, so run folders written before a key existed still load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunConfig {
    /// `manual` (section 1) or `autograd`.
    pub engine: Engine,
    /// `mlp` or `convnet`.
    pub model: ModelKind,
    /// Hidden layer widths of the MLP.
    pub hidden: Vec<usize>,
    /// Normalisation after each hidden layer.
    pub norm: Norm,
    /// Dropout probability after the hidden layers `dropout_at` names.
    pub dropout: f64,
    /// Which hidden layers dropout follows.
    pub dropout_at: DropoutAt,
    /// LeakyReLU negative slope.
    pub neg_slope: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// Momentum (heavy ball) for `momentum`, momentum buffer for `rmsprop`.
    pub momentum: f64,
    /// L2 penalty (decoupled for `adamw`).
    pub weight_decay: f64,
    /// Multiple of `lr` the batch norms' shifts (beta) learn at; their weight decay is divided
    /// by it, so they decay as before.
    pub norm_bias_lr: f64,
    /// Standard deviation of Linear weights; absent for the default (the manual engine: the
    /// lab's 1e-4; the autograd MLP: candle-nn's; the ConvNet: PyTorch's, as the spec says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_std: Option<f64>,
    /// How the convnet's convolution filters start.
    pub conv_init: ConvInit,
    /// The number format of the convolutions' and linear layers' products.
    #[serde(skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
    /// Images per training step.
    pub batch_size: usize,
    /// Training steps.
    pub steps: usize,
    /// Steps between evaluations on the test set.
    pub eval_every: usize,
    /// Seed of every random source of the run.
    pub seed: u64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Steps of linear warm-up from 0 to the scheduled learning rate (`onecycle`: its rise).
    pub warmup_steps: usize,
    /// `step` schedule: steps between decays.
    pub decay_every: usize,
    /// `step` schedule: factor of each decay.
    pub decay_factor: f64,
    /// Label smoothing of the training loss: the target puts this much mass evenly on all
    /// classes.
    pub label_smoothing: f64,
    /// Limit of the global gradient norm (gradients scaled down to it), absent = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_norm: Option<f64>,
    /// Augmentation of the training images.
    pub augment: Augment,
    /// Test-time augmentation of evaluations.
    pub tta: Tta,
    /// Steps between lookahead pulls (the weights and running statistics pulled back to their
    /// moving average, airbench's), 0 = off.
    #[serde(skip_serializing_if = "is_zero")]
    pub lookahead: usize,
    /// Evaluations without a new best test accuracy before the run ends, absent = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<usize>,
    /// Training images held out for validation (drawn by the seed), 0 = none: every
    /// evaluation then also reports the validation figures, and early stopping uses them.
    pub val_split: usize,
    /// Steps between `layers` events (per-layer statistics), 0 = off.
    pub diag_every: usize,
    /// Side the images are resized to (square), absent = their own size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<usize>,
    /// Channels the images are converted to (1 or 3), absent = their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// CIFAR-100's labels: fine (100 classes) or coarse (20).
    pub label: Label,
    /// Images held out as the test set of a single class-folder tree (a fixed draw).
    pub test_split: usize,
    /// The network as data (with `model = net`), its variables at the values in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<net::NetConfig>,
}

impl Default for RunConfig {
    /// Section 1's defaults on the manual engine.
    fn default() -> Self {
        RunConfig {
            engine: Engine::Manual,
            model: ModelKind::Mlp,
            hidden: vec![100],
            norm: Norm::None,
            dropout: 0.0,
            dropout_at: DropoutAt::AllButLast,
            neg_slope: 0.02,
            optimizer: OptimizerKind::Sgd,
            lr: 2e-3,
            momentum: 0.9,
            weight_decay: 0.0,
            norm_bias_lr: 1.0,
            init_std: None,
            conv_init: ConvInit::Default,
            precision: Precision::F32,
            batch_size: 200,
            steps: 1500,
            eval_every: 100,
            seed: 42,
            schedule: Schedule::Constant,
            warmup_steps: 0,
            decay_every: 1000,
            decay_factor: 0.1,
            label_smoothing: 0.0,
            clip_norm: None,
            augment: Augment::None,
            tta: Tta::None,
            early_stop: None,
            lookahead: 0,
            val_split: 0,
            image_size: None,
            channels: None,
            label: Label::Fine,
            test_split: 0,
            diag_every: DEFAULT_DIAG_EVERY,
            net: None,
        }
    }
}

impl Precision {
    fn is_f32(&self) -> bool {
        *self == Precision::F32
    }
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

/// The key naming a run's net.
pub const NET_KEY: &str = "net";
/// The prefix of a net variable's key: `net.width`.
pub const NET_VAR_PREFIX: &str = "net.";

/// Whether `name` is the net or one of its variables (keys outside the key table).
pub fn is_net_key(name: &str) -> bool {
    name == NET_KEY || name.starts_with(NET_VAR_PREFIX)
}

/// Steps between `layers` events unless a preset or `--set` says otherwise.
pub const DEFAULT_DIAG_EVERY: usize = 100;

/// The keys that shape a network: weights saved under one value of them fit no other.
pub const NETWORK_KEYS: &[&str] = &[
    "engine",
    "model",
    "hidden",
    "norm",
    "image_size",
    "channels",
    "label",
];

impl RunConfig {
    /// The first network key (`NETWORK_KEYS`) on which `self` and `other` differ, with
    /// `self`'s value and `other`'s; `None` when weights of one fit the other.
    pub fn network_difference(&self, other: &RunConfig) -> Option<(&'static str, String, String)> {
        let keys = NETWORK_KEYS.iter().find_map(|&k| {
            let spec = key(k).expect("a network key is a key");
            let (mine, theirs) = (spec.get(self), spec.get(other));
            (mine != theirs).then_some((k, mine, theirs))
        });
        let name = |c: &RunConfig| c.get(NET_KEY).unwrap_or_default();
        keys.or_else(|| (self.net != other.net).then(|| (NET_KEY, name(self), name(other))))
    }

    /// Sets one key from its text form (`--set key=value`, a preset, the dashboard's editor).
    /// The value is checked on its own; `validate` checks the combination.
    pub fn set(&mut self, name: &str, text: &str) -> Result<()> {
        if name == NET_KEY {
            return self.set_net(text);
        }
        if let Some(var) = name.strip_prefix(NET_VAR_PREFIX) {
            let net = self.net.as_mut().ok_or_else(|| {
                Error::Config(format!(
                    "{name}: the run has no net; set net=NAME first (gradboard net list)"
                ))
            })?;
            return net.set_var(var, text.trim());
        }
        key(name)?.set(self, text)
    }

    /// `net=NAME|FILE` (a net from the preset folders' `nets/` or a file, which then makes the
    /// model), or `net=none` (back to `model`'s own network).
    fn set_net(&mut self, text: &str) -> Result<()> {
        let text = text.trim();
        if matches!(text, "none" | "off" | "") {
            self.net = None;
            if self.model == ModelKind::Net {
                self.model = ModelKind::Mlp;
            }
            return Ok(());
        }
        let dirs = net::net_dirs(&PresetDirs::discover());
        self.net = Some(net::NetConfig::load(text, &dirs)?);
        self.model = ModelKind::Net;
        Ok(())
    }

    /// The text form of one key's value, as `set` reads it back.
    pub fn get(&self, name: &str) -> Result<String> {
        if name == NET_KEY {
            return Ok(self.net.as_ref().map_or("none".into(), |n| n.name.clone()));
        }
        if let Some(var) = name.strip_prefix(NET_VAR_PREFIX) {
            return self
                .net
                .as_ref()
                .and_then(|n| n.var(var))
                .map(format_float)
                .ok_or_else(|| {
                    Error::Config(format!("{name}: the run's net has no such variable"))
                });
        }
        Ok(key(name)?.get(self))
    }

    /// Applies a `key=value` override.
    pub fn apply_override(&mut self, assignment: &str) -> Result<()> {
        let (key, value) = assignment.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "--set {assignment:?}: expected key=value, e.g. lr=0.001"
            ))
        })?;
        let is_net = key.trim() == NET_KEY || key.trim().starts_with(NET_VAR_PREFIX);
        if value.trim().is_empty() && is_net {
            return Err(Error::Config(format!(
                "--set {assignment:?}: no value (an unset shell variable?)"
            )));
        }
        if value.trim().is_empty() {
            let off = match crate::config::key(key.trim())?.kind() {
                KeyKind::IntegerList => format!("; {}=[] for none", key.trim()),
                KeyKind::OptionalFloat(..) | KeyKind::OptionalInteger(..) => {
                    format!("; {}=none to turn it off", key.trim())
                }
                _ => String::new(),
            };
            return Err(Error::Config(format!(
                "--set {assignment:?}: no value (an unset shell variable?){off}"
            )));
        }
        self.set(key.trim(), value)
    }

    /// The keys whose values differ from `base`, in table order, as (key, text value).
    pub fn differences(&self, base: &RunConfig) -> Vec<(&'static str, String)> {
        KEYS.iter()
            .filter(|k| k.get(self) != k.get(base))
            .map(|k| (k.name, k.get(self)))
            .collect()
    }

    /// The settings the data set is read with.
    pub fn data_options(&self) -> crate::data::DataOptions {
        crate::data::DataOptions {
            image_size: self.image_size,
            channels: self.channels,
            label: self.label,
            test_split: self.test_split,
        }
    }

    /// Checks that the keys fit together (each key was range-checked when set).
    pub fn validate(&self) -> Result<()> {
        if self.channels == Some(2) {
            return Err(Error::Config(
                "channels = 2: images are converted to 1 (grey) or 3 (colour) channels".into(),
            ));
        }
        if self.engine == Engine::Manual {
            let mut wrong = Vec::new();
            if self.model != ModelKind::Mlp {
                wrong.push("model = mlp");
            }
            if self.norm != Norm::None {
                wrong.push("norm = none");
            }
            if self.dropout != 0.0 {
                wrong.push("dropout = 0");
            }
            if self.optimizer != OptimizerKind::Sgd {
                wrong.push("optimizer = sgd");
            }
            if self.weight_decay != 0.0 {
                wrong.push("weight_decay = 0");
            }
            if self.label_smoothing != 0.0 {
                wrong.push("label_smoothing = 0");
            }
            if self.clip_norm.is_some() {
                wrong.push("clip_norm = off");
            }
            if self.precision != Precision::F32 {
                wrong.push("precision = f32");
            }
            if !wrong.is_empty() {
                return Err(Error::Config(format!(
                    "engine = manual (section 1) needs {}; use engine = autograd for the rest",
                    wrong.join(", ")
                )));
            }
        }
        match (self.model == ModelKind::Net, &self.net) {
            (true, None) => {
                return Err(Error::Config(
                    "model = net needs a net: --set net=NAME or a file (gradboard net list)".into(),
                ))
            }
            (false, Some(n)) => {
                return Err(Error::Config(format!(
                    "net {}: a net is the model; model = {} cannot be beside it",
                    n.name,
                    self.model.name()
                )))
            }
            _ => {}
        }
        if self.model == ModelKind::Net && self.norm != Norm::None {
            return Err(Error::Config(format!(
                "norm = {}: a net says its own norms (bn layers); norm = none with a net",
                self.norm.name()
            )));
        }
        if self.model == ModelKind::Convnet
            && matches!(self.norm, Norm::CustomAutograd | Norm::CustomManual)
        {
            return Err(Error::Config(
                "norm: the convnet takes none or batchnorm (section 3's batch norms are 1-d)"
                    .into(),
            ));
        }
        if self.model == ModelKind::Mlp && self.hidden.is_empty() && self.norm != Norm::None {
            return Err(Error::Config(
                "norm: needs at least one hidden layer (hidden is empty)".into(),
            ));
        }
        if self.conv_init != ConvInit::Default
            && !matches!(self.model, ModelKind::Convnet | ModelKind::Net)
        {
            return Err(Error::Config(format!(
                "conv_init: {} needs model = convnet (the MLP has no convolutions)",
                self.conv_init.name()
            )));
        }
        if self.norm_bias_lr != 1.0 && self.norm == Norm::None && self.model != ModelKind::Net {
            return Err(Error::Config(
                "norm_bias_lr: needs a batch norm (norm = none has no shifts)".into(),
            ));
        }
        if self.warmup_steps > self.steps {
            return Err(Error::Config(format!(
                "warmup_steps: {} is more than the run's {} steps",
                self.warmup_steps, self.steps
            )));
        }
        if self.norm != Norm::None && self.batch_size < 2 {
            return Err(Error::Config(
                "batch_size: batch norm needs batches of at least 2".into(),
            ));
        }
        Ok(())
    }

    /// Builds a configuration from TOML text (a preset's keys; `description` is skipped).
    /// Keys the text leaves out take `RunConfig::default()`'s values.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::Preset(format!("{origin}: not valid TOML: {}", e.message()))
        })?;
        let mut config = RunConfig::default();
        for (key, value) in &table {
            if key == "description" {
                continue;
            }
            if let (NET_KEY, toml::Value::Table(t)) = (key.as_str(), value) {
                config.net = Some(
                    net::NetConfig::from_table("inline", t.clone())
                        .map_err(|e| Error::Config(format!("{origin}: {e}")))?,
                );
                config.model = ModelKind::Net;
                continue;
            }
            let text = toml_value_text(value).ok_or_else(|| {
                Error::Config(format!("{origin}: {key}: unsupported value {value}"))
            })?;
            config
                .set(key, &text)
                .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        }
        config
            .validate()
            .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        Ok(config)
    }

    /// The configuration as TOML, with `description` first when given.
    pub fn to_toml(&self, description: Option<&str>) -> String {
        let mut out = String::new();
        if let Some(d) = description {
            out.push_str(&format!("description = {}\n", toml::Value::from(d)));
        }
        out.push_str(&toml::to_string(self).unwrap_or_default());
        out
    }
}

/// A TOML value as a key's text (lists joined with commas).
pub(crate) fn toml_value_text(value: &toml::Value) -> Option<String> {
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(toml_value_text)
            .collect::<Option<Vec<_>>>()?
            .join(","),
        _ => return None,
    })
}
