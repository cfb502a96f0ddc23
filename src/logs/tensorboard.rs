//! TensorBoard's event files: the few protobuf messages a scalar and the hparams plugin need,
//! written here for prost's derive (no protoc at build time), and the scalars and settings
//! they hold. A value is a `simple_value` (PyTorch's `add_scalar`) or a `tensor` (TensorFlow 2
//! and PyTorch's `new_style`: `float_val`, `double_val` or `tensor_content`); the hparams
//! plugin's session-start message (`add_hparams`, Keras' hparams) gives the run's settings.

use prost::Message;
use std::collections::{BTreeMap, HashMap};

/// `tensorflow.Event`: only what scalars need.
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    /// Seconds since the epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The global step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// The values logged.
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    /// Its values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    /// The tag (`loss`, `train/acc`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// A scalar the old way.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    /// A scalar the new way.
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
    /// The plugin that wrote it.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
}

/// `tensorflow.SummaryMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryMetadata {
    /// The plugin and its content.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

/// `tensorflow.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, Message)]
pub struct PluginData {
    /// `scalars`, `hparams`, ...
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    /// The plugin's own message.
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// `tensorflow.TensorProto`: a scalar's value.
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    /// 1 = float, 2 = double.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// Raw little-endian values.
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
    /// Floats.
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    /// Doubles.
    #[prost(double, repeated, tag = "6")]
    pub double_val: Vec<f64>,
}

/// The hparams plugin's `HParamsPluginData`.
#[derive(Clone, PartialEq, Message)]
pub struct HParamsPluginData {
    /// A session's start: its hyperparameters.
    #[prost(message, optional, tag = "3")]
    pub session_start_info: Option<SessionStartInfo>,
}

/// The hparams plugin's `SessionStartInfo`.
#[derive(Clone, PartialEq, Message)]
pub struct SessionStartInfo {
    /// Name to value.
    #[prost(map = "string, message", tag = "1")]
    pub hparams: HashMap<String, ProtoValue>,
}

/// `google.protobuf.Value`: the kinds a hyperparameter takes.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoValue {
    /// A number.
    #[prost(double, optional, tag = "2")]
    pub number_value: Option<f64>,
    /// A string.
    #[prost(string, optional, tag = "3")]
    pub string_value: Option<String>,
    /// A bool.
    #[prost(bool, optional, tag = "4")]
    pub bool_value: Option<bool>,
}

impl TensorProto {
    /// Its first value as a number.
    fn scalar(&self) -> Option<f64> {
        if let Some(v) = self.float_val.first() {
            return Some(*v as f64);
        }
        if let Some(v) = self.double_val.first() {
            return Some(*v);
        }
        match (self.dtype, self.tensor_content.len()) {
            (1, 4) => Some(f32::from_le_bytes(self.tensor_content[..4].try_into().ok()?) as f64),
            (2, 8) => Some(f64::from_le_bytes(
                self.tensor_content[..8].try_into().ok()?,
            )),
            _ => None,
        }
    }
}

/// One scalar point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The step it was logged at.
    pub step: i64,
    /// The value.
    pub value: f64,
    /// Unix seconds.
    pub wall_time: f64,
}

/// What a run's event records hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// Scalars by tag, in the order logged.
    pub scalars: BTreeMap<String, Vec<Point>>,
    /// The hparams plugin's settings.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Records that were not an event.
    pub undecodable: usize,
}

impl Decoded {
    /// Adds the scalars and settings of one event record.
    pub fn add_record(&mut self, data: &[u8]) {
        let Ok(event) = Event::decode(data) else {
            self.undecodable += 1;
            return;
        };
        let Some(summary) = event.summary else {
            return;
        };
        for v in summary.value {
            let plugin = v.metadata.as_ref().and_then(|m| m.plugin_data.as_ref());
            if let Some(p) = plugin.filter(|p| p.plugin_name == "hparams") {
                self.add_hparams(&p.content);
                continue;
            }
            let value = v
                .simple_value
                .map(f64::from)
                .or_else(|| v.tensor.as_ref().and_then(TensorProto::scalar));
            if let Some(value) = value {
                self.scalars.entry(v.tag).or_default().push(Point {
                    step: event.step,
                    value,
                    wall_time: event.wall_time,
                });
            }
        }
    }

    fn add_hparams(&mut self, content: &[u8]) {
        let Ok(data) = HParamsPluginData::decode(content) else {
            self.undecodable += 1;
            return;
        };
        let Some(start) = data.session_start_info else {
            return;
        };
        for (name, v) in start.hparams {
            let value = if let Some(n) = v.number_value {
                // Protobuf keeps every number a double: a whole one reads back as an integer.
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    (n as i64).into()
                } else {
                    serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, Into::into)
                }
            } else if let Some(s) = v.string_value {
                s.into()
            } else if let Some(b) = v.bool_value {
                b.into()
            } else {
                serde_json::Value::Null
            };
            self.settings.insert(name, value);
        }
    }
}

/// An event record holding scalars `values` (tag, value) at `step`, `simple_value` style
/// (tests and tools write event files with it).
pub fn scalar_event(step: i64, wall_time: f64, values: &[(&str, f32)]) -> Vec<u8> {
    Event {
        wall_time,
        step,
        summary: Some(Summary {
            value: values
                .iter()
                .map(|(tag, v)| SummaryValue {
                    tag: tag.to_string(),
                    simple_value: Some(*v),
                    tensor: None,
                    metadata: None,
                })
                .collect(),
        }),
    }
    .encode_to_vec()
}
