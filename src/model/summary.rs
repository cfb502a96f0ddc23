//! A net's summary for a data shape, as torchinfo or Keras print one: each layer's output
//! shape, parameters (weights and biases of convolutions and linear layers, a batch norm's
//! two a channel; running statistics and frozen weights are not parameters) and FLOP an image
//! (a multiply-add counts two; the products of convolutions and linear layers, element-wise
//! work left out as `model::flops` leaves it), with the totals. Shapes that cannot follow
//! (a map that shrinks to nothing, a residual no projection can match) are errors naming the
//! layer.

use crate::config::net::{Layer, Net, NetError, Units};
use serde_json::json;

/// What flows between layers: maps (channels, height, width) or a flat vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Channels, height, width.
    Maps(usize, usize, usize),
    /// Features.
    Flat(usize),
}

impl Shape {
    /// Values an image.
    pub fn elements(&self) -> u64 {
        match *self {
            Shape::Maps(c, h, w) => c as u64 * h as u64 * w as u64,
            Shape::Flat(n) => n as u64,
        }
    }

    /// As a list: [C, H, W] or [N].
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Maps(c, h, w) => vec![c, h, w],
            Shape::Flat(n) => vec![n],
        }
    }
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Its place: `3`, or `3.1` inside a residual (`3.shortcut` for its projection).
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its output's shape.
    pub out: Shape,
    /// Trainable values.
    pub params: u64,
    /// FLOP an image, forward.
    pub flops: u64,
    /// How deep inside residuals.
    pub depth: usize,
    /// Where the layer is a 3x3 convolution of stride 1 and padding 1 (which the CPU's own
    /// kernels run, by Winograd where it pays): the maps it takes.
    pub same_3x3: Option<Shape>,
}

/// A net's summary for one input shape and class count.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The rows, input to output.
    pub rows: Vec<SummaryRow>,
    /// The input's shape.
    pub input: Shape,
    /// The output's shape.
    pub output: Shape,
    /// Trainable values in all.
    pub params: u64,
    /// FLOP an image, forward.
    pub flops: u64,
    /// Values every layer's output holds an image (what a training step keeps for backward).
    pub activations: u64,
}

impl Summary {
    /// Bytes a training step at `batch` images needs, by the estimate that refuses runs which
    /// cannot fit (`model::memory`).
    pub fn training_bytes(&self, batch: usize) -> u64 {
        let convolutional = self.rows.iter().any(|r| r.kind == "conv");
        let eval_chunk = if convolutional { 100 } else { 1000 };
        crate::model::memory::step_bytes(self.params, self.activations, batch, eval_chunk)
    }

    /// The contract's JSON: `{"layers":[{"name","kind","out","params","flops"}],"params","flops"}`
    /// and the input, output, activations and the memory at `batch`.
    pub fn json(&self, batch: usize) -> serde_json::Value {
        json!({
            "layers": self.rows.iter().map(|r| json!({
                "name": r.name,
                "kind": r.kind,
                "out": r.out.dims(),
                "params": r.params,
                "flops": r.flops,
            })).collect::<Vec<_>>(),
            "params": self.params,
            "flops": self.flops,
            "input": self.input.dims(),
            "output": self.output.dims(),
            "activations": self.activations,
            "batch_size": batch,
            "training_bytes": self.training_bytes(batch),
        })
    }

    /// The table for a terminal.
    pub fn table(&self, batch: usize) -> String {
        let mut out = self.row_lines(false, false).join("\n");
        out.push('\n');
        out.push_str(&format!(
            "\ntotal: {} parameters ({:.1} MB of f32), {} MFLOP an image forward ({:.2} GFLOP a training step of {batch}, about 3x forward)\n",
            thousands(self.params),
            self.params as f64 * 4.0 / 1e6,
            fmt_m(self.flops),
            3.0 * self.flops as f64 * batch as f64 / 1e9,
        ));
        out.push_str(&format!(
            "memory: a training step at batch {batch} needs about {:.2} GB ({} activation values an image)\n",
            self.training_bytes(batch) as f64 / 1e9,
            thousands(self.activations)
        ));
        out
    }
}

impl Summary {
    /// The table's header, input and layer lines; `compact` leaves out the element-wise
    /// layers (activations, dropout, scale), which change no shape and hold no parameter, and
    /// `top` the layers inside residuals.
    pub fn row_lines(&self, compact: bool, top: bool) -> Vec<String> {
        let mut out = vec![
            format!(
                "{:<14} {:<11} {:>16} {:>12} {:>14}",
                "layer", "kind", "output", "params", "FLOP/image"
            ),
            format!("{:<14} {:<11} {:>16}", "input", "", shape_text(&self.input)),
        ];
        let elementwise = ["relu", "leaky_relu", "gelu", "tanh", "dropout", "scale"];
        for r in self
            .rows
            .iter()
            .filter(|r| !compact || !elementwise.contains(&r.kind))
            .filter(|r| !top || r.depth == 0)
        {
            let name = format!("{}{}", "  ".repeat(r.depth), r.name);
            out.push(format!(
                "{name:<14} {:<11} {:>16} {:>12} {:>14}",
                r.kind,
                shape_text(&r.out),
                thousands(r.params),
                thousands(r.flops)
            ));
        }
        out
    }
}

fn fmt_m(flops: u64) -> String {
    format!("{:.2}", flops as f64 / 1e6)
}

fn shape_text(s: &Shape) -> String {
    let dims: Vec<String> = s.dims().iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// 1234567 as "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// CIFAR-10's image shape and class count: what `net show` assumes without `--data`.
pub const CIFAR: (Shape, usize) = (Shape::Maps(3, 32, 32), 10);

/// A data set's image shape as a net's input, and its class count.
pub fn input_of(data: crate::data::DataShape) -> (Shape, usize) {
    (
        Shape::Maps(data.channels, data.height, data.width),
        data.classes,
    )
}

/// The summary of the network `config` trains (its net, or the lab model's expansion) on
/// `data`; `None` for a net that cannot take it (`check_net` says why).
pub fn of_config(
    config: &crate::config::RunConfig,
    data: crate::data::DataShape,
) -> Option<Summary> {
    let net = super::described(config)?;
    let (input, classes) = input_of(data);
    summarise(&net, input, classes).ok()
}

/// Whether the network `config` trains takes `data`'s shape: the one line naming the layer
/// that cannot.
pub fn check_net(
    config: &crate::config::RunConfig,
    data: crate::data::DataShape,
) -> Result<(), NetError> {
    match super::described(config) {
        Some(net) => {
            let (input, classes) = input_of(data);
            summarise(&net, input, classes).map(|_| ())
        }
        None => Ok(()),
    }
}

/// The summary of `net` on inputs of `input`'s shape with `classes` classes.
pub fn summarise(net: &Net, input: Shape, classes: usize) -> Result<Summary, NetError> {
    let mut walker = Walker {
        net: &net.name,
        classes,
        rows: Vec::new(),
    };
    let output = walker.walk(&net.layers, input, "", 0)?;
    let rows = walker.rows;
    Ok(Summary {
        // Saturating: an absurd net gives an absurd figure (which the memory check refuses),
        // never an overflow.
        params: rows.iter().fold(0, |a, r| a.saturating_add(r.params)),
        flops: rows.iter().fold(0, |a, r| a.saturating_add(r.flops)),
        activations: rows
            .iter()
            .fold(0, |a, r| a.saturating_add(r.out.elements())),
        rows,
        input,
        output,
    })
}

/// The shape a layer (not a residual, whose shape its body gives) makes of `input`, or what
/// stops it; `classes` is what `linear = "classes"` outputs. The summary and the built
/// network both take shapes from here.
pub fn output_shape(layer: &Layer, input: Shape, classes: usize) -> Result<Shape, String> {
    let maps = || match input {
        Shape::Maps(c, h, w) => Ok((c, h, w)),
        Shape::Flat(n) => Err(format!(
            "needs maps [C, H, W]; its input is a flat vector of {n}"
        )),
    };
    let window = |h: usize, w: usize, k: usize, stride: usize, pad: usize| match (
        side(h, k, stride, pad),
        side(w, k, stride, pad),
    ) {
        (Some(ho), Some(wo)) => Ok((ho, wo)),
        _ => Err(format!(
            "a {k}x{k} window on a {h}x{w} map (pad {pad}) shrinks it to nothing"
        )),
    };
    Ok(match layer {
        Layer::Conv {
            out,
            k,
            stride,
            pad,
            ..
        } => {
            let (_, h, w) = maps()?;
            let (ho, wo) = window(h, w, *k, *stride, *pad)?;
            Shape::Maps(*out, ho, wo)
        }
        Layer::Whiten { k } => {
            let (c, h, w) = maps()?;
            let (ho, wo) = window(h, w, *k, 1, 0)?;
            Shape::Maps(2 * c * k * k, ho, wo)
        }
        Layer::Linear { out, .. } => Shape::Flat(match out {
            Units::Count(n) => *n,
            Units::Classes => classes,
        }),
        Layer::Pool { k, stride, pad, .. } => {
            let (c, h, w) = maps()?;
            let (ho, wo) = window(h, w, *k, *stride, *pad)?;
            Shape::Maps(c, ho, wo)
        }
        Layer::GlobalAvgPool => Shape::Flat(maps()?.0),
        Layer::Flatten => Shape::Flat(input.elements() as usize),
        Layer::Residual { .. } => return Err("a residual's shape is its body's".into()),
        Layer::BatchNorm { .. }
        | Layer::Relu
        | Layer::LeakyRelu { .. }
        | Layer::Gelu
        | Layer::Tanh
        | Layer::Dropout { .. }
        | Layer::Scale { .. } => input,
    })
}

/// A layer's trainable values and forward FLOP an image, from its input and output shapes.
fn cost(layer: &Layer, input: Shape, out: Shape) -> (u64, u64) {
    let c_in = match input {
        Shape::Maps(c, ..) | Shape::Flat(c) => c as u64,
    };
    let out_elements = out.elements();
    match layer {
        Layer::Conv { k, bias, .. } => {
            let Shape::Maps(c_out, ..) = out else {
                return (0, 0);
            };
            let taps = (k * k) as u64;
            let weights = c_in.saturating_mul(taps).saturating_mul(c_out as u64);
            let bias = if *bias { c_out as u64 } else { 0 };
            let flops = (2 * c_in).saturating_mul(taps).saturating_mul(out_elements);
            (weights.saturating_add(bias), flops)
        }
        Layer::Whiten { k } => {
            let Shape::Maps(c_out, ..) = out else {
                return (0, 0);
            };
            let taps = (k * k) as u64;
            let flops = (2 * c_in).saturating_mul(taps).saturating_mul(out_elements);
            (c_out as u64, flops)
        }
        Layer::Linear { bias, .. } => {
            let weights = input.elements().saturating_mul(out_elements);
            let bias = if *bias { out_elements } else { 0 };
            (weights.saturating_add(bias), weights.saturating_mul(2))
        }
        Layer::BatchNorm { scale } => (c_in * (1 + u64::from(*scale)), 0),
        _ => (0, 0),
    }
}

struct Walker<'a> {
    net: &'a str,
    classes: usize,
    rows: Vec<SummaryRow>,
}

/// A map side after a window of `k` at `stride` with `pad`; `None` when nothing is left.
fn side(n: usize, k: usize, stride: usize, pad: usize) -> Option<usize> {
    (n + 2 * pad).checked_sub(k).map(|d| d / stride + 1)
}

impl Walker<'_> {
    fn walk(
        &mut self,
        layers: &[Layer],
        mut shape: Shape,
        prefix: &str,
        depth: usize,
    ) -> Result<Shape, NetError> {
        for (i, layer) in layers.iter().enumerate() {
            let name = format!("{prefix}{i}");
            let fail = |why: String| NetError {
                net: self.net.to_string(),
                at: Some(format!("layer {name} ({})", layer.kind())),
                why,
            };
            if let Layer::Residual { body } = layer {
                shape = self
                    .residual(body, shape, &name, depth)
                    .map_err(|e| match e {
                        Fault::Own(why) => fail(why),
                        Fault::Inner(e) => e,
                    })?;
                continue;
            }
            if matches!(layer, Layer::Whiten { .. }) && !name.is_empty() && name != "0" {
                return Err(fail(
                    "whitens the images, so it must be the net's first layer".into(),
                ));
            }
            let out = output_shape(layer, shape, self.classes).map_err(fail)?;
            let (params, flops) = cost(layer, shape, out);
            self.rows.push(SummaryRow {
                name,
                kind: layer.kind(),
                out,
                params,
                flops,
                depth,
                same_3x3: match layer {
                    Layer::Conv {
                        k: 3,
                        stride: 1,
                        pad: 1,
                        ..
                    } => Some(shape),
                    _ => None,
                },
            });
            shape = out;
        }
        Ok(shape)
    }

    /// A residual's rows (its own, its body's, its projection's where the body changes the
    /// shape) and its output's shape.
    fn residual(
        &mut self,
        body: &[Layer],
        shape: Shape,
        name: &str,
        depth: usize,
    ) -> Result<Shape, Fault> {
        let own = self.rows.len();
        self.rows.push(SummaryRow {
            name: name.to_string(),
            kind: "residual",
            out: shape,
            params: 0,
            flops: 0,
            same_3x3: None,
            depth,
        });
        let out = self
            .walk(body, shape, &format!("{name}."), depth + 1)
            .map_err(Fault::Inner)?;
        if out != shape {
            let (c, h, w, co, ho, wo) = match (shape, out) {
                (Shape::Maps(c, h, w), Shape::Maps(co, ho, wo)) => (c, h, w, co, ho, wo),
                (Shape::Maps(..), Shape::Flat(_)) => {
                    return Err(Fault::Own(format!(
                        "its body ends flat ({:?}) where its input is maps",
                        out.dims()
                    )))
                }
                _ => {
                    return Err(Fault::Own(format!(
                    "its body turns {:?} into {:?}, which no projection can match on a flat vector",
                    shape.dims(),
                    out.dims()
                )))
                }
            };
            if projection_stride((h, w), (ho, wo)).is_none() {
                return Err(Fault::Own(format!(
                    "its body turns {h}x{w} maps into {ho}x{wo}, which no strided 1x1 projection gives"
                )));
            }
            let weights = (c * co) as u64;
            self.rows.push(SummaryRow {
                name: format!("{name}.shortcut"),
                kind: "projection",
                out,
                params: weights + 2 * co as u64,
                flops: 2 * weights * (ho * wo) as u64,
                depth: depth + 1,
                same_3x3: None,
            });
        }
        // The residual's own row shows its output, after the body and the shortcut.
        self.rows[own].out = out;
        Ok(out)
    }
}

/// A residual's fault: its own (named after it), or one of its body's (named already).
enum Fault {
    Own(String),
    Inner(NetError),
}

/// The stride of the 1x1 convolution that takes `h` x `w` maps to `ho` x `wo`, if one does.
pub fn projection_stride((h, w): (usize, usize), (ho, wo): (usize, usize)) -> Option<usize> {
    (1..=h.max(w)).find(|&s| side(h, 1, s, 0) == Some(ho) && side(w, 1, s, 0) == Some(wo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::net::parse_net;

    fn summary(text: &str) -> Result<Summary, NetError> {
        let net = parse_net("t", &toml::from_str(text).unwrap(), &[]).unwrap();
        summarise(&net, Shape::Maps(3, 32, 32), 10)
    }

    /// A residual block, a stride-2 convolution, GELU, dropout and global average pooling,
    /// counted by hand.
    #[test]
    fn parameters_flops_and_shapes_are_counted_as_by_hand() {
        let s = summary(
            r#"
layers = [
  { conv = 16, k = 3 }, "bn", "relu",
  { residual = [ { conv = 16, k = 3, bias = false }, "bn", "relu", { conv = 16, k = 3, bias = false }, "bn" ] },
  { conv = 32, k = 3, stride = 2 }, "gelu",
  { residual = [ { conv = 64, k = 3, stride = 2, bias = false }, "bn" ] },
  { dropout = 0.2 }, "gap", { linear = "classes" },
]"#,
        )
        .unwrap();
        let conv1 = 3 * 9 * 16 + 16;
        let bn1 = 2 * 16;
        let res1 = 2 * (16 * 9 * 16 + 2 * 16);
        let conv2 = 16 * 9 * 32 + 32;
        let res2 = (32 * 9 * 64 + 2 * 64) + (32 * 64 + 2 * 64);
        let linear = 64 * 10 + 10;
        assert_eq!(
            s.params,
            (conv1 + bn1 + res1 + conv2 + res2 + linear) as u64
        );
        let flops = 2 * (3 * 9 * 16) * 32 * 32
            + 2 * 2 * (16 * 9 * 16) * 32 * 32
            + 2 * (16 * 9 * 32) * 16 * 16
            + 2 * (32 * 9 * 64) * 8 * 8
            + 2 * (32 * 64) * 8 * 8
            + 2 * 64 * 10;
        assert_eq!(s.flops, flops as u64);
        assert_eq!(s.output, Shape::Flat(10));
        let shortcut = s.rows.iter().find(|r| r.name == "6.shortcut").unwrap();
        assert_eq!(
            (shortcut.kind, shortcut.out),
            ("projection", Shape::Maps(64, 8, 8))
        );
        let conv2_row = s.rows.iter().find(|r| r.name == "4").unwrap();
        assert_eq!(conv2_row.out, Shape::Maps(32, 16, 16));
        let json = s.json(128);
        assert_eq!(json["params"], s.params);
        assert_eq!(json["layers"][0]["out"], json!([16, 32, 32]));
        assert!(s.table(128).contains("total:"));
    }

    #[test]
    fn shapes_that_cannot_follow_name_their_layer() {
        for (text, wanted) in [
            (
                "layers = [{ maxpool = 2 }, { maxpool = 2 }, { maxpool = 2 }, { maxpool = 2 }, { maxpool = 2 }, { maxpool = 2 }]",
                "net t: layer 5 (maxpool): a 2x2 window on a 1x1 map (pad 0) shrinks it to nothing",
            ),
            (
                "layers = [\"gap\", { conv = 8 }]",
                "net t: layer 1 (conv): needs maps [C, H, W]; its input is a flat vector of 3",
            ),
            (
                "layers = [{ residual = [{ conv = 8, k = 5, pad = 0 }] }]",
                "net t: layer 0 (residual): its body turns 32x32 maps into 28x28",
            ),
            (
                "layers = [{ residual = [\"gap\"] }]",
                "net t: layer 0 (residual): its body ends flat",
            ),
        ] {
            let e = summary(text).unwrap_err().to_string();
            assert!(e.starts_with(wanted), "{text}: {e}");
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(9_228_362), "9,228,362");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }
}
