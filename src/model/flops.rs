//! The multiply-adds a training step and an evaluation do, counted from the architecture: the
//! useful count (every product done directly, as a direct convolution does it) and the count
//! the kernels execute (Winograd F(m x m, 3x3) does a 3x3 convolution's products with (m + 2)²
//! multiplications an m x m tile where the direct one does 9m²: 2.25 times fewer for m = 2, 4
//! times fewer for m = 4; a convolution tap by tap skips the products with the padding, 2.25
//! times fewer on a 2x2 map; `conv::choose` picks the method for both the kernels and this
//! count). Element-wise work (norms, activations, the update) is left out: it is a few percent.

use super::network::mlp_widths;
use crate::config::{ModelKind, Precision, RunConfig};

/// FLOP (a multiply-add counts two) of one piece of work.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Flops {
    /// As the products are defined (direct convolution).
    pub useful: f64,
    /// As the kernels do them (Winograd where it applies).
    pub executed: f64,
}

impl std::ops::AddAssign for Flops {
    fn add_assign(&mut self, o: Flops) {
        self.useful += o.useful;
        self.executed += o.executed;
    }
}

use crate::kernels::{amx, conv};

/// What one layer computes: its shape and how its kernels compute it.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Its parameter prefix: conv1.., fc1.., out.
    pub name: String,
    /// A convolution's (input channels, output channels, map side), or a linear layer's
    /// (inputs, outputs, 1).
    pub shape: (usize, usize, usize),
    /// A 3x3 convolution (else a matrix product).
    pub conv: bool,
    /// How the kernels compute it: "im2col", "F(2x2, 3x3)", "F(4x4, 3x3)", "taps" or "gemm".
    pub method: &'static str,
    /// The network's first layer (its input needs no gradient).
    pub first: bool,
    /// Its forward product at one image.
    forward: f64,
    /// How many times fewer multiplications the kernels execute (1 for a direct product).
    saving: f64,
}

impl Layer {
    /// Its forward product over `images` images.
    pub fn forward(&self, images: usize) -> Flops {
        let useful = self.forward * images as f64;
        Flops {
            useful,
            executed: useful / self.saving,
        }
    }

    /// A training step over `batch` images: the forward product, the weight gradient, and the
    /// input gradient but for the first layer's.
    pub fn step(&self, batch: usize) -> Flops {
        let f = self.forward(batch);
        let products = if self.first { 2.0 } else { 3.0 };
        Flops {
            useful: f.useful * products,
            executed: f.executed * products,
        }
    }
}

/// The layers of `config`'s network, the choice of method made at `batch` images.
pub fn layers(config: &RunConfig, batch: usize) -> Vec<Layer> {
    let bf16 = config.precision == Precision::Bf16;
    let linear = |name: String, inputs: usize, outputs: usize, first: bool| Layer {
        name,
        shape: (inputs, outputs, 1),
        conv: false,
        method: if bf16 { "gemm bf16" } else { "gemm" },
        first,
        forward: 2.0 * (inputs * outputs) as f64,
        saving: 1.0,
    };
    match config.model {
        ModelKind::Mlp => {
            let widths = mlp_widths(&config.hidden, crate::data::DataShape::CIFAR10);
            let last = widths.len() - 2;
            widths
                .windows(2)
                .enumerate()
                .map(|(i, w)| {
                    let name = if i == last {
                        "out".to_string()
                    } else {
                        format!("fc{}", i + 1)
                    };
                    linear(name, w[0], w[1], i == 0)
                })
                .collect()
        }
        ModelKind::Net => super::summary::of_config(config, crate::data::DataShape::CIFAR10)
            .map(|s| {
                s.rows
                    .iter()
                    .filter(|r| r.flops > 0)
                    .enumerate()
                    .map(|(i, r)| {
                        let (c, side) = match r.out {
                            super::summary::Shape::Maps(c, h, _) => (c, h),
                            super::summary::Shape::Flat(n) => (n, 1),
                        };
                        // The same 3x3 convolutions go by `conv::conv2d`; the rest by candle.
                        let (method, saving) = match r.same_3x3 {
                            Some(super::summary::Shape::Maps(c_in, h, w)) => {
                                conv3x3_method(bf16, (c_in, h, w, batch))
                            }
                            _ => ("candle", 1.0),
                        };
                        Layer {
                            name: r.name.clone(),
                            shape: (0, c, side),
                            conv: r.kind != "linear",
                            method,
                            first: i == 0,
                            forward: r.flops as f64,
                            saving,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ModelKind::Convnet => {
            let (convs, c, side) = super::architecture::convnet_convs();
            let mut out: Vec<Layer> = convs
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let (method, saving) = conv3x3_method(bf16, (v.c_in, v.side, v.side, batch));
                    Layer {
                        name: format!("conv{}", i + 1),
                        shape: (v.c_in, v.c_out, v.side),
                        conv: true,
                        method,
                        first: i == 0,
                        forward: 2.0 * (v.side * v.side * v.c_out * v.c_in * 9) as f64,
                        saving,
                    }
                })
                .collect();
            out.push(linear("out".to_string(), c * side * side, 10, false));
            out
        }
    }
}

/// How the CPU kernels run a 3x3 convolution of stride 1 and padding 1 on `dims` (channels,
/// height, width, batch), and how many times fewer multiplications that executes: in bf16 on
/// bf16 tiles all by im2col (`conv::conv2d_chwn_bf16`), otherwise as `conv::choose` picks.
fn conv3x3_method(bf16: bool, dims: (usize, usize, usize, usize)) -> (&'static str, f64) {
    let method = conv::choose(3, dims);
    if bf16 && (amx::engine().is_some() || method == conv::Method::Im2col) {
        return ("im2col bf16", 1.0);
    }
    (method.name(), method.saving(3, dims))
}

/// A training step at the configuration's batch size: each product forward, its weight
/// gradient, and its input gradient but for the first layer's.
pub fn step(config: &RunConfig) -> Flops {
    let mut total = Flops::default();
    for layer in layers(config, config.batch_size) {
        total += layer.step(config.batch_size);
    }
    total
}

/// A forward pass over `images` images (an evaluation).
pub fn forward(config: &RunConfig, images: usize) -> Flops {
    let mut total = Flops::default();
    for layer in layers(config, images) {
        total += layer.forward(images);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_convnets_step_is_29_gflop_direct_and_10_executed() {
        let config = RunConfig {
            engine: crate::config::Engine::Autograd,
            model: ModelKind::Convnet,
            batch_size: 32,
            ..RunConfig::default()
        };
        let f = step(&config);
        // conv1 (3 -> 64 at 32x32) forward and dW only: 2 x 113.2 M; the rest three products
        // each, by F(4x4, 3x3) on the 16x16 and 8x8 maps (4.83 G forward, 4 times fewer) and
        // F(2x2, 3x3) on the 4x4 maps and taps on the 2x2 maps (4.83 G forward, 2.25 times
        // fewer both); the linear
        // layer 0.98 M.
        assert!((f.useful / 1e9 - 29.218).abs() < 0.01, "{f:?}");
        assert!((f.executed / 1e9 - 10.29).abs() < 0.01, "{f:?}");
    }

    #[test]
    fn the_convnets_layers_name_their_method() {
        let config = RunConfig {
            model: ModelKind::Convnet,
            ..RunConfig::default()
        };
        let methods: Vec<(String, &str)> = layers(&config, 32)
            .into_iter()
            .map(|l| (l.name, l.method))
            .collect();
        let expected = [
            ("conv1", "im2col"),
            ("conv2", "F(4x4, 3x3)"),
            ("conv3", "F(4x4, 3x3)"),
            ("conv4", "F(4x4, 3x3)"),
            ("conv5", "F(2x2, 3x3)"),
            ("conv6", "F(2x2, 3x3)"),
            ("conv7", "taps"),
            ("conv8", "taps"),
            ("out", "gemm"),
        ]
        .map(|(n, m)| (n.to_string(), m));
        assert_eq!(methods, expected);
    }

    /// The speedrun's same 3x3 convolutions execute Winograd's fewer multiplications in f32
    /// and every one in bf16; its whitening and linear layers go by candle.
    #[test]
    fn the_speedruns_convolutions_are_counted_as_their_kernels_run_them() {
        let presets = crate::config::PresetDirs {
            dirs: vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
        };
        let mut config = presets.find("speedrun").unwrap().config;
        let methods: Vec<&str> = layers(&config, 64).iter().map(|l| l.method).collect();
        assert_eq!(
            methods,
            [
                "candle",
                "F(4x4, 3x3)",
                "F(4x4, 3x3)",
                "F(4x4, 3x3)",
                "F(4x4, 3x3)",
                "F(4x4, 3x3)",
                "F(2x2, 3x3)",
                "candle"
            ]
        );
        let f32_step = step(&config);
        assert!(f32_step.executed < 0.3 * f32_step.useful, "{f32_step:?}");
        config.precision = Precision::Bf16;
        // On bf16 tiles every convolution is direct; without them bf16 takes f32's methods.
        amx::tests::on_each_engine(|engine| {
            let bf16_step = step(&config);
            assert_eq!(bf16_step.useful, f32_step.useful);
            assert_eq!(bf16_step.executed, bf16_step.useful, "{engine:?}");
        });
        let _none = amx::tests::Only::nothing();
        assert_eq!(step(&config), f32_step, "bf16 without tiles");
    }

    #[test]
    fn an_mlps_step_is_three_products_a_layer_but_the_first() {
        let config = RunConfig {
            hidden: vec![100],
            batch_size: 200,
            ..RunConfig::default()
        };
        // 3072 x 100 and 100 x 10 at batch 200: (2 + 3) products.
        let expected = 2.0 * 200.0 * (3072.0 * 100.0 * 2.0 + 100.0 * 10.0 * 3.0);
        assert_eq!(step(&config).useful, expected);
        assert_eq!(step(&config).executed, expected);
        assert_eq!(
            forward(&config, 10_000).useful,
            2.0 * 10_000.0 * (3072.0 * 100.0 + 1000.0)
        );
    }
}
