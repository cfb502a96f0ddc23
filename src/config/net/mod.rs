//! Networks as data: a net description (TOML: variables, a list of layers, named blocks with
//! parameters and `repeat`) read into a tree of `Layer`s (`model::summary` works out its
//! shapes, parameters and FLOP; `nn::net` builds it). `../shared/DESIGN.md` ("Networks")
//! holds the format.
//!
//! ```toml
//! vars = { width = 64 }
//! layers = [ { conv = "$width", k = 3 }, "bn", "relu", { block = "res", c = "$width" },
//!            "gap", { linear = "classes" } ]
//! [blocks.res]
//! layers = [ { residual = [ { conv = "$c" }, "bn", "relu", { conv = "$c" }, "bn" ] }, "relu" ]
//! ```

mod parse;

pub use parse::{parse_net, NetError};

use crate::config::PresetDirs;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How many units a layer's output: a count, or the data's class count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// This many.
    Count(usize),
    /// As many as the data has classes.
    Classes,
}

/// One layer of a net, its variables resolved and its blocks expanded.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// A 2-d convolution: output channels, kernel side, stride, padding, bias.
    Conv {
        /// Output channels.
        out: usize,
        /// Kernel side.
        k: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        pad: usize,
        /// Whether it adds a bias.
        bias: bool,
    },
    /// A fully connected layer (a flatten before it when its input is maps).
    Linear {
        /// Outputs.
        out: Units,
        /// Whether it adds a bias.
        bias: bool,
    },
    /// Batch norm: a scale and a shift a channel (a feature after a flatten).
    BatchNorm {
        /// Whether its scale trains; false fixes it at 1 (airbench's norms only shift).
        scale: bool,
    },
    /// max(x, 0).
    Relu,
    /// max(x, slope x).
    LeakyRelu {
        /// The slope below zero.
        slope: f64,
    },
    /// GELU.
    Gelu,
    /// tanh.
    Tanh,
    /// Max or average pooling.
    Pool {
        /// Max (else average).
        max: bool,
        /// Window side.
        k: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        pad: usize,
    },
    /// Global average pooling: maps to one value a channel.
    GlobalAvgPool,
    /// Maps to a flat vector.
    Flatten,
    /// Dropout with probability `p`; `None` follows the run's `dropout` key.
    Dropout {
        /// The probability, when the net fixes it.
        p: Option<f64>,
    },
    /// Multiplies by a constant.
    Scale {
        /// The factor.
        factor: f64,
    },
    /// x + body(x), with a 1x1 convolution and a batch norm on the shortcut where the body
    /// changes the shape.
    Residual {
        /// The body.
        body: Vec<Layer>,
    },
    /// A frozen patch-whitening convolution (k x k patches, no padding) whose filters come
    /// from the training set's patch covariance: 2 C k² output channels (each eigenvector and
    /// its negative); only its bias trains.
    Whiten {
        /// Patch side.
        k: usize,
    },
}

impl Layer {
    /// Its kind as a description writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv { .. } => "conv",
            Layer::Linear { .. } => "linear",
            Layer::BatchNorm { .. } => "bn",
            Layer::Relu => "relu",
            Layer::LeakyRelu { .. } => "leaky_relu",
            Layer::Gelu => "gelu",
            Layer::Tanh => "tanh",
            Layer::Pool { max: true, .. } => "maxpool",
            Layer::Pool { max: false, .. } => "avgpool",
            Layer::GlobalAvgPool => "gap",
            Layer::Flatten => "flatten",
            Layer::Dropout { .. } => "dropout",
            Layer::Scale { .. } => "scale",
            Layer::Residual { .. } => "residual",
            Layer::Whiten { .. } => "whiten",
        }
    }
}

/// Whether `layers` (residual bodies included) hold a layer that `which` picks.
pub fn contains(layers: &[Layer], which: &dyn Fn(&Layer) -> bool) -> bool {
    layers.iter().any(|l| match l {
        Layer::Residual { body } => contains(body, which),
        other => which(other),
    })
}

/// A net description read and resolved: its name, its variables (as given and as set) and its
/// layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// Its name (the file's stem, or `inline`).
    pub name: String,
    /// One line saying what it is.
    pub description: String,
    /// Its variables with the values in force.
    pub vars: BTreeMap<String, f64>,
    /// Its layers, input to output.
    pub layers: Vec<Layer>,
}

/// The folders nets are looked for in: `nets/` in each preset folder (the built-in one
/// first), then the user's `~/.config/gradboard/nets/`.
pub fn net_dirs(presets: &PresetDirs) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = presets.dirs.iter().map(|d| d.join("nets")).collect();
    if let Some(config) = presets.user_dir().parent() {
        dirs.push(config.join("nets"));
    }
    dirs.dedup();
    dirs
}

/// The names of the nets in `dirs`, sorted, each once (the first folder's wins).
pub fn list_nets(dirs: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "toml") {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    found.entry(stem.to_string()).or_insert(path);
                }
            }
        }
    }
    found.into_iter().collect()
}

/// Reads net `name_or_path` (a name in `dirs`, or a path to a `.toml` file) with variables
/// `set` (`VAR=VALUE`, the `net.` prefix taken off) in force.
pub fn load_net(name_or_path: &str, dirs: &[PathBuf], set: &[(String, String)]) -> Result<Net> {
    let (name, table) = read_net_table(name_or_path, dirs)?;
    let mut table = table;
    table.remove("name");
    Ok(parse_net(&name, &table, set)?)
}

/// The description table of net `name_or_path` and its name (the file's stem).
fn read_net_table(name_or_path: &str, dirs: &[PathBuf]) -> Result<(String, toml::Table)> {
    let as_path = Path::new(name_or_path);
    let path = if name_or_path.ends_with(".toml") || as_path.components().count() > 1 {
        as_path.to_path_buf()
    } else {
        list_nets(dirs)
            .into_iter()
            .find(|(n, _)| n == name_or_path)
            .map(|(_, p)| p)
            .ok_or_else(|| {
                let known: Vec<String> = list_nets(dirs).into_iter().map(|(n, _)| n).collect();
                Error::Config(format!(
                    "net {name_or_path:?}: no such net (known: {}; or give a .toml file)",
                    known.join(", ")
                ))
            })?
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| Error::Config(format!("net {}: {}", path.display(), e.message())))?;
    // A net file holds the net at its top, or under [net] as a preset does.
    let table = match table.get("net") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => table,
    };
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("net")
        .to_string();
    Ok((name, table))
}

/// Splits `net.VAR=VALUE` assignments into (VAR, VALUE); anything else is an error.
pub fn net_overrides(sets: &[String]) -> Result<Vec<(String, String)>> {
    sets.iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("--set {s:?}: expected net.VAR=VALUE")))?;
            let var = k.trim().strip_prefix("net.").ok_or_else(|| {
                Error::Config(format!(
                    "--set {s:?}: a net's variables are set as net.VAR=VALUE"
                ))
            })?;
            Ok((var.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// A run's network as data: the description as read, its variables at the values in force,
/// kept whole in the run's settings so a run folder rebuilds its net without the file.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConfig {
    /// Where it came from: the net's name, a file's stem, or `inline`.
    pub name: String,
    /// The description (`vars`, `layers`, `blocks`, `description`).
    pub table: toml::Table,
}

impl NetConfig {
    /// Net `name_or_path` from `dirs` (or a file), read and checked.
    pub fn load(name_or_path: &str, dirs: &[PathBuf]) -> Result<Self> {
        let (name, table) = read_net_table(name_or_path, dirs)?;
        Self::from_table(&name, table)
    }

    /// A description given as a table (a preset's `[net]`, a stored run's settings, where a
    /// `name` entry says where it came from), checked.
    pub fn from_table(default_name: &str, mut table: toml::Table) -> Result<Self> {
        let name = match table.remove("name") {
            Some(toml::Value::String(n)) => n,
            _ => default_name.to_string(),
        };
        let config = NetConfig { name, table };
        config.net()?;
        Ok(config)
    }

    /// The layers, variables resolved.
    pub fn net(&self) -> Result<Net> {
        Ok(parse_net(&self.name, &self.table, &[])?)
    }

    /// Variable `var`'s value in force.
    pub fn var(&self, var: &str) -> Option<f64> {
        self.table
            .get("vars")
            .and_then(toml::Value::as_table)
            .and_then(|v| v.get(var))
            .and_then(|v| match v {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) => Some(*f),
                _ => None,
            })
    }

    /// Its variables and their values, in order.
    pub fn vars(&self) -> Vec<(String, f64)> {
        let names: Vec<String> = self
            .table
            .get("vars")
            .and_then(toml::Value::as_table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        names
            .into_iter()
            .filter_map(|n| Some((n.clone(), self.var(&n)?)))
            .collect()
    }

    /// Sets variable `var` from its text; the net is checked again with it.
    pub fn set_var(&mut self, var: &str, text: &str) -> Result<()> {
        let mut next = self.clone();
        let parsed = parse_net(
            &self.name,
            &self.table,
            &[(var.to_string(), text.to_string())],
        )?;
        let value = parsed.vars[var];
        let as_toml = if value.fract() == 0.0 && value.abs() < 1e15 {
            toml::Value::Integer(value as i64)
        } else {
            toml::Value::Float(value)
        };
        next.table
            .entry("vars")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("vars is a table: the net parsed")
            .insert(var.to_string(), as_toml);
        *self = next;
        Ok(())
    }

    /// The description with its `name`, as stored in a run's settings.
    pub fn stored(&self) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("name".into(), toml::Value::String(self.name.clone()));
        t.extend(self.table.clone());
        t
    }
}

impl serde::Serialize for NetConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.stored().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for NetConfig {
    /// A stored description (a table with its `name`), or a net's name or file, read now.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        match toml::Value::deserialize(d)? {
            toml::Value::String(name) => {
                NetConfig::load(&name, &net_dirs(&PresetDirs::discover())).map_err(D::Error::custom)
            }
            toml::Value::Table(t) => NetConfig::from_table("inline", t).map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "net: a name, a file or a table, not {other}"
            ))),
        }
    }
}
