//! Forward plus backward of every hand-written CPU kernel at the shapes the presets train,
//! beside the reference path it replaces: `cargo bench --bench kernels` (add `-- NAME` to
//! pick one; `GRADBOARD_SIMD=avx2|baseline` times the fallbacks).

use candle_core::{Device, Tensor, Var};
use gradboard::config::OptimizerKind;
use gradboard::kernels::bn_act::bn_leaky_dropout;
use gradboard::kernels::bn_relu::bn_relu;
use gradboard::kernels::conv::{conv2d_chwn_using, conv2d_same, ConvAlgorithm};
use gradboard::kernels::gemm::{product, View};
use gradboard::kernels::loss::{cross_entropy, reference_cross_entropy};
use gradboard::kernels::norm::NormParams;
use gradboard::kernels::pool::{max_pool2d_reference, max_pool_chwn, LAB_POOL};
use gradboard::kernels::simd::Level;
use gradboard::kernels::Kernels;
use gradboard::model::{Hyper, Params};
use gradboard::nn::norm_params::register_norm;
use gradboard::optim::Optimizer;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn main() {
    gradboard::keep_freed_memory();
    gradboard::set_threads(gradboard::default_threads());
    divan::main();
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn tensor(shape: &[usize], seed: u64) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(values(n, seed), shape, &Device::Cpu).unwrap()
}

fn var(shape: &[usize], seed: u64) -> Var {
    Var::from_tensor(&tensor(shape, seed)).unwrap()
}

/// Runs `y`'s backward against a fixed random output gradient.
fn backward(y: &Tensor, dy: &Tensor) {
    divan::black_box((y * dy).unwrap().sum_all().unwrap().backward().unwrap());
}

/// The ConvNet's convolution `layer` (0 to 7) on batch 32: (input channels, output channels,
/// map size).
fn conv_layer(layer: usize) -> (usize, usize, usize) {
    let v = gradboard::model::convnet_convs().0[layer];
    (v.c_in, v.c_out, v.side)
}

mod conv {
    use super::*;

    /// Times forward plus backward of `layer` by `algorithm`, or by the reference when `None`.
    fn run(bencher: divan::Bencher, layer: usize, algorithm: Option<ConvAlgorithm>) {
        let (c, k, s) = conv_layer(layer);
        let b = 32;
        let w = var(&[k, c, 3, 3], 2);
        match algorithm {
            Some(algorithm) => {
                let x = var(&[c, s, s, b], 1);
                let dy = tensor(&[k, s, s, b], 3);
                bencher.bench(|| {
                    let y = conv2d_chwn_using(
                        x.as_tensor(),
                        w.as_tensor(),
                        false,
                        true,
                        algorithm,
                        Level::detected(),
                    )
                    .unwrap();
                    backward(&y, &dy);
                });
            }
            None => {
                let x = var(&[b, c, s, s], 1);
                let dy = tensor(&[b, k, s, s], 3);
                bencher.bench(|| {
                    backward(
                        &conv2d_same(x.as_tensor(), w.as_tensor(), None).unwrap(),
                        &dy,
                    )
                });
            }
        }
    }

    /// What the network uses: im2col on the first layer, Winograd, taps on the 2x2 maps.
    #[divan::bench(args = [0, 1, 2, 3, 4, 5, 6, 7])]
    fn auto(bencher: divan::Bencher, layer: usize) {
        run(bencher, layer, Some(ConvAlgorithm::Auto));
    }

    #[divan::bench(args = [1, 2, 3, 4, 5, 6, 7])]
    fn im2col(bencher: divan::Bencher, layer: usize) {
        run(bencher, layer, Some(ConvAlgorithm::Im2col));
    }

    #[divan::bench(args = [1, 2, 3, 4, 5, 6, 7])]
    fn winograd_f2(bencher: divan::Bencher, layer: usize) {
        run(bencher, layer, Some(ConvAlgorithm::Winograd));
    }

    #[divan::bench(args = [1, 2, 3, 4, 5])]
    fn winograd_f4(bencher: divan::Bencher, layer: usize) {
        run(bencher, layer, Some(ConvAlgorithm::Winograd4));
    }

    #[divan::bench(args = [4, 5, 6, 7])]
    fn taps(bencher: divan::Bencher, layer: usize) {
        run(bencher, layer, Some(ConvAlgorithm::Taps));
    }

    #[divan::bench(args = [0, 1, 2, 3], sample_count = 10)]
    fn reference(bencher: divan::Bencher, layer: usize) {
        run(bencher, layer, None);
    }
}

mod norm {
    use super::*;

    fn norm(features: usize) -> NormParams {
        register_norm(
            &mut Params::new(),
            "bn",
            features,
            (candle_core::DType::F32, &Device::Cpu),
        )
        .unwrap()
    }

    /// The ConvNet's first batch norm + ReLU: 64 channels of 32x32, batch 32.
    #[divan::bench]
    fn bn_relu_conv1(bencher: divan::Bencher) {
        let (x, dy) = (var(&[64, 32, 32, 32], 1), tensor(&[64, 32, 32, 32], 2));
        let bn = norm(64);
        bencher.bench(|| {
            let y = bn_relu(Kernels::Cpu, x.as_tensor(), &bn, true).unwrap();
            backward(&y, &dy);
        });
    }

    /// The same through the reference (candle-nn's batch norm and ReLU on (B, C, H, W)).
    #[divan::bench(sample_count = 10)]
    fn bn_relu_conv1_reference(bencher: divan::Bencher) {
        let (x, dy) = (var(&[32, 64, 32, 32], 1), tensor(&[32, 64, 32, 32], 2));
        let bn = norm(64);
        bencher.bench(|| {
            let y = bn_relu(Kernels::Reference, x.as_tensor(), &bn, true).unwrap();
            backward(&y, &dy);
        });
    }

    /// mlp-best's first hidden layer: batch norm, LeakyReLU and dropout on 512x800, on the
    /// CPU op and on the reference.
    fn bn_leaky_dropout_mlp(bencher: divan::Bencher, kernels: Kernels) {
        let (x, dy) = (var(&[512, 800], 1), tensor(&[512, 800], 2));
        let bn = norm(800);
        let mask: Vec<f32> = values(512 * 800, 5)
            .into_iter()
            .map(|v| if v < 0.6 { 1.25 } else { 0.0 })
            .collect();
        bencher.bench(|| {
            let y = bn_leaky_dropout(kernels, x.as_tensor(), &bn, 0.01, Some(mask.clone()), true)
                .unwrap();
            backward(&y, &dy);
        });
    }

    #[divan::bench]
    fn bn_leaky_dropout_mlp_cpu(bencher: divan::Bencher) {
        bn_leaky_dropout_mlp(bencher, Kernels::Cpu);
    }

    #[divan::bench(sample_count = 10)]
    fn bn_leaky_dropout_mlp_reference(bencher: divan::Bencher) {
        bn_leaky_dropout_mlp(bencher, Kernels::Reference);
    }
}

mod harness {
    use super::*;

    /// What every forward-plus-backward figure here includes besides the kernel: the product
    /// with the output gradient, its sum and their backward, on the ConvNet's first map.
    #[divan::bench]
    fn backward_conv1_map(bencher: divan::Bencher) {
        let (y, dy) = (var(&[64, 32, 32, 32], 1), tensor(&[64, 32, 32, 32], 2));
        bencher.bench(|| backward(y.as_tensor(), &dy));
    }
}

mod pool {
    use super::*;

    #[divan::bench]
    fn fast_conv1(bencher: divan::Bencher) {
        let (x, dy) = (var(&[64, 32, 32, 32], 1), tensor(&[64, 16, 16, 32], 2));
        bencher.bench(|| backward(&max_pool_chwn(x.as_tensor(), LAB_POOL).unwrap(), &dy));
    }

    #[divan::bench(sample_count = 10)]
    fn reference_conv1(bencher: divan::Bencher) {
        let (x, dy) = (var(&[32, 64, 32, 32], 1), tensor(&[32, 64, 16, 16], 2));
        bencher.bench(|| backward(&max_pool2d_reference(x.as_tensor(), LAB_POOL).unwrap(), &dy));
    }
}

mod loss {
    use super::*;

    fn run(fast: bool) {
        let logits = var(&[512, 10], 1);
        let labels: Vec<u8> = (0..512).map(|i| (i * 7 % 10) as u8).collect();
        let loss = if fast {
            cross_entropy(Kernels::Cpu, logits.as_tensor(), &labels, 0.1)
                .unwrap()
                .tensor
        } else {
            reference_cross_entropy(logits.as_tensor(), &labels, 0.1).unwrap()
        };
        divan::black_box(loss.backward().unwrap());
    }

    #[divan::bench]
    fn fused(bencher: divan::Bencher) {
        bencher.bench(|| run(true));
    }

    #[divan::bench]
    fn reference(bencher: divan::Bencher) {
        bencher.bench(|| run(false));
    }
}

mod optimizer {
    use super::*;

    /// One Adam step on the ConvNet's 3.6 M-value largest layer shape (512x512x3x3) and a
    /// small one.
    fn run(bencher: divan::Bencher, kernels: Kernels) {
        let mut params = Params::new();
        let a = params.var("a", &tensor(&[512, 512, 3, 3], 1)).unwrap();
        let b = params.var("b", &tensor(&[513], 2)).unwrap();
        let (ga, gb) = (tensor(&[512, 512, 3, 3], 3), tensor(&[513], 4));
        let loss = ((a.as_tensor() * &ga).unwrap().sum_all().unwrap()
            + (b.as_tensor() * &gb).unwrap().sum_all().unwrap())
        .unwrap();
        let grads = loss.backward().unwrap();
        let mut opt = Optimizer::new(OptimizerKind::Adam, &params, kernels).unwrap();
        let hyper = Hyper::new(1e-4, 0.9, 0.0);
        bencher.bench_local(|| opt.step(&grads, &hyper).unwrap());
    }

    #[divan::bench]
    fn adam_fused(bencher: divan::Bencher) {
        run(bencher, Kernels::Cpu);
    }

    #[divan::bench(sample_count = 10)]
    fn adam_reference(bencher: divan::Bencher) {
        run(bencher, Kernels::Reference);
    }
}

mod augment {
    use gradboard::config::Augment;
    use gradboard::data::augment::Seeds;
    use gradboard::data::synthetic::{files, write_folder};
    use gradboard::data::Dataset;

    const SEEDS: Seeds = Seeds {
        run: 1,
        step: 1,
        epoch: 0,
    };

    fn data() -> Dataset {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path(), &files(200, 10)).unwrap();
        Dataset::load(dir.path()).unwrap()
    }

    /// An evaluation chunk's preprocessing: 1000 test images to f32 minus the mean image.
    #[divan::bench]
    fn preprocess_eval_chunk(bencher: divan::Bencher) {
        let dir = tempfile::tempdir().unwrap();
        write_folder(dir.path(), &files(10, 1000)).unwrap();
        let data = Dataset::load(dir.path()).unwrap();
        let indices: Vec<u32> = (0..1000).collect();
        bencher.bench(|| data.preprocess(&data.test, &indices));
    }

    /// A training batch (preprocessing plus augmentation) of 32 (the ConvNet's) and 512
    /// (the MLP's) images, under each augmentation.
    #[divan::bench(args = [32, 512])]
    fn batch_plain(bencher: divan::Bencher, n: usize) {
        let data = data();
        let indices: Vec<u32> = (0..n as u32).collect();
        bencher.bench(|| data.training_batch(&indices, Augment::None, SEEDS));
    }

    #[divan::bench(args = [32, 512])]
    fn batch_flip(bencher: divan::Bencher, n: usize) {
        let data = data();
        let indices: Vec<u32> = (0..n as u32).collect();
        bencher.bench(|| data.training_batch(&indices, Augment::Flip, SEEDS));
    }

    #[divan::bench(args = [32, 512])]
    fn batch_alt_flip(bencher: divan::Bencher, n: usize) {
        let data = data();
        let indices: Vec<u32> = (0..n as u32).collect();
        bencher.bench(|| data.training_batch(&indices, Augment::AltFlip, SEEDS));
    }

    #[divan::bench(args = [32, 512])]
    fn batch_crop_flip(bencher: divan::Bencher, n: usize) {
        let data = data();
        let indices: Vec<u32> = (0..n as u32).collect();
        bencher.bench(|| data.training_batch(&indices, Augment::CropFlip, SEEDS));
    }
}

mod matmul {
    use super::*;

    /// mlp-best's input layer, forward: (512 x 3072) by (3072 x 800).
    #[divan::bench]
    fn gemm_input_layer(bencher: divan::Bencher) {
        let (a, b) = (values(512 * 3072, 1), values(3072 * 800, 2));
        bencher.bench(|| product(View::rows(&a, 512, 3072), View::rows(&b, 3072, 800), 1.0));
    }

    #[divan::bench]
    fn candle_input_layer(bencher: divan::Bencher) {
        let (a, b) = (tensor(&[512, 3072], 1), tensor(&[3072, 800], 2));
        bencher.bench(|| a.matmul(&b).unwrap());
    }
}
