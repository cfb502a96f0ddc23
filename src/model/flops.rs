//! The multiply-adds a training step and an evaluation do, counted from the architecture: the
//! useful count (every product done directly, as a direct convolution does it) and the count
//! the kernels execute (Winograd F(m x m, 3x3) does a 3x3 convolution's products with (m + 2)²
//! multiplications an m x m tile where the direct one does 9m²: 2.25 times fewer for m = 2, 4
//! times fewer for m = 4; `winograd::choose` picks the tile for both the kernels and this
//! count). Element-wise work (norms, activations, the update) is left out: it is a few percent.

use super::network::mlp_widths;
use crate::config::{ModelKind, RunConfig};

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

use crate::kernels::winograd;

/// One layer's forward product, how many times fewer multiplications the kernels execute
/// (1 for a direct product), and whether it is the first layer (no input gradient).
struct Product {
    forward: f64,
    saving: f64,
    first: bool,
}

fn products(config: &RunConfig, batch: f64) -> Vec<Product> {
    match config.model {
        ModelKind::Mlp => {
            let widths = mlp_widths(&config.hidden);
            widths
                .windows(2)
                .enumerate()
                .map(|(i, w)| Product {
                    forward: 2.0 * batch * (w[0] * w[1]) as f64,
                    saving: 1.0,
                    first: i == 0,
                })
                .collect()
        }
        ModelKind::Convnet => {
            let (convs, c, side) = super::architecture::convnet_convs();
            let mut out: Vec<Product> = convs
                .iter()
                .enumerate()
                .map(|(i, v)| Product {
                    forward: 2.0 * batch * (v.side * v.side * v.c_out * v.c_in * 9) as f64,
                    saving: winograd::choose(3, (v.c_in, v.side, v.side, batch as usize))
                        .map_or(1.0, |tile| tile.saving()),
                    first: i == 0,
                })
                .collect();
            out.push(Product {
                forward: 2.0 * batch * (c * side * side * 10) as f64,
                saving: 1.0,
                first: false,
            });
            out
        }
    }
}

/// A training step at the configuration's batch size: each product forward, its weight
/// gradient, and its input gradient but for the first layer's.
pub fn step(config: &RunConfig) -> Flops {
    let mut total = Flops::default();
    for p in products(config, config.batch_size as f64) {
        let useful = p.forward * if p.first { 2.0 } else { 3.0 };
        total += Flops {
            useful,
            executed: useful / p.saving,
        };
    }
    total
}

/// A forward pass over `images` images (an evaluation).
pub fn forward(config: &RunConfig, images: usize) -> Flops {
    let mut total = Flops::default();
    for p in products(config, images as f64) {
        total += Flops {
            useful: p.forward,
            executed: p.forward / p.saving,
        };
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
        // F(2x2, 3x3) on the 4x4 and 2x2 maps (4.83 G forward, 2.25 times fewer); the linear
        // layer 0.98 M.
        assert!((f.useful / 1e9 - 29.218).abs() < 0.01, "{f:?}");
        assert!((f.executed / 1e9 - 10.29).abs() < 0.01, "{f:?}");
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
