//! The ConvNet's architecture, written once: the network builds from it, and the memory
//! estimate and the FLOP count work from it.

use crate::config::net::{Layer, Net, Units};
use crate::config::{Choice, DropoutAt, Engine, ModelKind, Norm, RunConfig};
use crate::kernels::pool::LAB_POOL;

/// Section 4's VGG-like ConvNet on 32x32x3 images: a conv block's name and output channels
/// (3x3, same padding, batch norm and ReLU), or a 2x2 max pool; then one linear layer from the
/// last map to the ten classes.
pub const CONVNET: &[Option<(&str, usize)>] = &[
    Some(("conv1", 64)),
    None,
    Some(("conv2", 128)),
    None,
    Some(("conv3_a", 256)),
    Some(("conv3_b", 256)),
    None,
    Some(("conv4_a", 512)),
    Some(("conv4_b", 512)),
    None,
    Some(("conv5_a", 512)),
    Some(("conv5_b", 512)),
    None,
];

/// A convolution of the ConvNet: input and output channels and the side of its (square) maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Side of its input and output maps.
    pub side: usize,
}

/// The ConvNet's convolutions in order, and the channels and side of its last map.
pub fn convnet_convs() -> (Vec<ConvShape>, usize, usize) {
    let (mut c, mut side) = (3usize, 32usize);
    let mut convs = Vec::new();
    for layer in CONVNET {
        match layer {
            Some((_, k)) => {
                convs.push(ConvShape {
                    c_in: c,
                    c_out: *k,
                    side,
                });
                c = *k;
            }
            None => side /= 2,
        }
    }
    (convs, c, side)
}

/// Every map the ConvNet computes after its input: channels and side (a conv's output, a
/// pool's output).
pub fn convnet_maps() -> Vec<(usize, usize)> {
    let (mut c, mut side) = (3usize, 32usize);
    let mut maps = Vec::new();
    for layer in CONVNET {
        match layer {
            Some((_, k)) => c = *k,
            None => side /= 2,
        }
        maps.push((c, side));
    }
    maps
}

/// The network `config` trains as a net description: its `net`, or the lab models' shorthand
/// expanded (`model = "mlp"` with `hidden`: each hidden width a linear layer, the run's norm,
/// LeakyReLU at `neg_slope` and dropout following the `dropout` key; `model = "convnet"`: the
/// VGG above). The summary, the `start` event's parameters and FLOP, the memory estimate and
/// the runs screen read this one description. On CIFAR-10's shape the lab models train on
/// their own code (tests hold it and the description to the same losses); on other data this
/// description is the network that trains.
pub fn described(config: &RunConfig) -> Option<Net> {
    let (name, layers) = match config.model {
        ModelKind::Net => return config.net.as_ref()?.net().ok(),
        ModelKind::Mlp => (
            format!("mlp {}", widths_text(&config.hidden)),
            mlp_layers(config),
        ),
        ModelKind::Convnet => ("convnet".to_string(), convnet_layers()),
    };
    Some(Net {
        name,
        description: format!("model = {}, as a net", config.model.name()),
        vars: Default::default(),
        layers,
    })
}

fn widths_text(hidden: &[usize]) -> String {
    match hidden.is_empty() {
        true => "(no hidden layer)".into(),
        false => hidden
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("-"),
    }
}

fn mlp_layers(config: &RunConfig) -> Vec<Layer> {
    let normed = config.norm != Norm::None;
    let last = config.hidden.len().saturating_sub(1);
    let mut layers = Vec::new();
    for (i, &w) in config.hidden.iter().enumerate() {
        layers.push(Layer::Linear {
            out: Units::Count(w),
            bias: !normed,
        });
        if normed {
            layers.push(Layer::BatchNorm { scale: true });
        }
        layers.push(Layer::LeakyRelu {
            slope: config.neg_slope,
        });
        let dropout =
            config.engine != Engine::Manual && (i < last || config.dropout_at == DropoutAt::All);
        if dropout {
            layers.push(Layer::Dropout { p: None });
        }
    }
    layers.push(Layer::Linear {
        out: Units::Classes,
        bias: true,
    });
    layers
}

fn convnet_layers() -> Vec<Layer> {
    let mut layers = Vec::new();
    for layer in CONVNET {
        match layer {
            Some((_, c)) => layers.extend([
                Layer::Conv {
                    out: *c,
                    k: 3,
                    stride: 1,
                    pad: 1,
                    bias: false,
                },
                Layer::BatchNorm { scale: true },
                Layer::Relu,
            ]),
            None => layers.push(Layer::Pool {
                max: true,
                k: LAB_POOL.kernel,
                stride: LAB_POOL.stride,
                pad: LAB_POOL.padding,
            }),
        }
    }
    layers.push(Layer::Linear {
        out: Units::Classes,
        bias: true,
    });
    layers
}
