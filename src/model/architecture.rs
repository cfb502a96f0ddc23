//! The ConvNet's architecture, written once: the network builds from it, and the memory
//! estimate and the FLOP count work from it.

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
