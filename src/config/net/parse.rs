//! A net description's TOML read into layers: variables substituted (`"$width"`), blocks
//! expanded with their parameters, `repeat` unrolled, every argument checked. An error names
//! the entry as the file writes it (its index, nested with dots, and its kind).

use super::{Layer, Net, Units};
use std::collections::BTreeMap;

/// Blocks may use blocks this deep at most (a block that uses itself would never end).
const MAX_DEPTH: usize = 16;
/// Layers a net may expand to at most (a `repeat` of a million is a typo).
const MAX_LAYERS: usize = 10_000;
/// The widest a layer may be (channels or units).
const MAX_WIDTH: usize = 1 << 20;

/// What is wrong with a net, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct NetError {
    /// The net's name.
    pub net: String,
    /// The entry: `layer 3.1 (conv)`, when the fault is in one.
    pub at: Option<String>,
    /// What is wrong.
    pub why: String,
}

impl std::error::Error for NetError {}

impl From<NetError> for crate::Error {
    fn from(e: NetError) -> Self {
        crate::Error::Config(e.to_string())
    }
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.at {
            Some(at) => write!(f, "net {}: {at}: {}", self.net, self.why),
            None => write!(f, "net {}: {}", self.net, self.why),
        }
    }
}

/// The kinds an entry may name, and the arguments each takes beside its own value.
const KINDS: &[(&str, &[&str])] = &[
    ("conv", &["k", "stride", "pad", "bias"]),
    ("linear", &["bias"]),
    ("bn", &["learn_scale"]),
    ("relu", &[]),
    ("leaky_relu", &[]),
    ("gelu", &[]),
    ("tanh", &[]),
    ("maxpool", &["stride", "pad"]),
    ("avgpool", &["stride", "pad"]),
    ("gap", &[]),
    ("flatten", &[]),
    ("dropout", &[]),
    ("scale", &[]),
    ("residual", &[]),
    ("whiten", &[]),
    ("block", &[]),
];

/// Variables in scope: the net's, and a block's parameters over them.
type Scope = BTreeMap<String, f64>;

struct Reader<'a> {
    net: &'a str,
    blocks: BTreeMap<String, toml::Table>,
    expanded: usize,
}

/// Reads a net from its table (`vars`, `layers`, `blocks`, `description`) with variables
/// `set` in force.
pub fn parse_net(
    name: &str,
    table: &toml::Table,
    set: &[(String, String)],
) -> Result<Net, NetError> {
    let fail = |why: String| NetError {
        net: name.to_string(),
        at: None,
        why,
    };
    for key in table.keys() {
        if !["description", "vars", "layers", "blocks"].contains(&key.as_str()) {
            return Err(fail(format!(
                "unknown entry {key:?} (a net has description, vars, layers and blocks)"
            )));
        }
    }
    let mut vars = Scope::new();
    if let Some(v) = table.get("vars") {
        let v = v
            .as_table()
            .ok_or_else(|| fail("vars: a table, e.g. vars = { width = 64 }".into()))?;
        for (k, value) in v {
            let x = number(value).ok_or_else(|| fail(format!("vars {k}: a number")))?;
            vars.insert(k.clone(), x);
        }
    }
    for (k, v) in set {
        if !vars.contains_key(k) {
            let known: Vec<&str> = vars.keys().map(String::as_str).collect();
            return Err(fail(format!(
                "net.{k}: no such variable (the net's: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        let x: f64 = v
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| fail(format!("net.{k}={v}: a number")))?;
        vars.insert(k.clone(), x);
    }
    let mut blocks = BTreeMap::new();
    if let Some(b) = table.get("blocks") {
        let b = b
            .as_table()
            .ok_or_else(|| fail("blocks: a table of named blocks".into()))?;
        for (k, block) in b {
            let block = block
                .as_table()
                .filter(|t| t.get("layers").is_some_and(toml::Value::is_array))
                .ok_or_else(|| fail(format!("blocks.{k}: a table with layers = [...]")))?;
            if let Some(extra) = block.keys().find(|k| k.as_str() != "layers") {
                return Err(fail(format!(
                    "blocks.{k}: unknown entry {extra:?} (a block has layers)"
                )));
            }
            blocks.insert(k.clone(), block.clone());
        }
    }
    let layers = table
        .get("layers")
        .and_then(toml::Value::as_array)
        .ok_or_else(|| fail("no layers = [...]".into()))?;
    if layers.is_empty() {
        return Err(fail("layers = []: a net needs a layer".into()));
    }
    let mut reader = Reader {
        net: name,
        blocks,
        expanded: 0,
    };
    let layers = reader.list(layers, &vars, "", 0)?;
    Ok(Net {
        name: name.to_string(),
        description: table
            .get("description")
            .and_then(toml::Value::as_str)
            .unwrap_or_default()
            .to_string(),
        vars,
        layers,
    })
}

fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

impl Reader<'_> {
    fn list(
        &mut self,
        entries: &[toml::Value],
        scope: &Scope,
        prefix: &str,
        depth: usize,
    ) -> Result<Vec<Layer>, NetError> {
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let index = format!("{prefix}{i}");
            out.extend(self.entry(entry, scope, &index, depth)?);
        }
        Ok(out)
    }

    /// The layers one entry stands for (a block's, repeated, are several).
    fn entry(
        &mut self,
        entry: &toml::Value,
        scope: &Scope,
        index: &str,
        depth: usize,
    ) -> Result<Vec<Layer>, NetError> {
        let (kind, value, args) = match entry {
            toml::Value::String(kind) => (kind.as_str(), None, toml::Table::new()),
            toml::Value::Table(t) => {
                let kinds: Vec<&str> = t
                    .keys()
                    .map(String::as_str)
                    .filter(|k| KINDS.iter().any(|(name, _)| name == k))
                    .collect();
                let kind = match kinds.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(NetError {
                            net: self.net.to_string(),
                            at: Some(format!("layer {index}")),
                            why: format!(
                                "no kind among {:?}; kinds: {}",
                                t.keys().collect::<Vec<_>>(),
                                KINDS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
                            ),
                        })
                    }
                    several => {
                        return Err(NetError {
                            net: self.net.to_string(),
                            at: Some(format!("layer {index}")),
                            why: format!("one kind an entry, not {}", several.join(" and ")),
                        })
                    }
                };
                let mut args = t.clone();
                let value = args.remove(kind);
                (kind, value, args)
            }
            other => {
                return Err(NetError {
                    net: self.net.to_string(),
                    at: Some(format!("layer {index}")),
                    why: format!(
                        "{other} is not a layer: a kind (\"relu\") or a table ({{ conv = 64 }})"
                    ),
                })
            }
        };
        let at = format!("layer {index} ({kind})");
        let fail = |why: String| NetError {
            net: self.net.to_string(),
            at: Some(at.clone()),
            why,
        };
        let Some((_, allowed)) = KINDS.iter().find(|(name, _)| *name == kind) else {
            return Err(fail(format!(
                "unknown kind; kinds: {}",
                KINDS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
            )));
        };
        let mut args = args;
        let repeat = match args.remove("repeat") {
            None => 1,
            Some(v) => {
                let n = resolve(&v, scope).map_err(&fail)?;
                whole(n, 1, 1000).map_err(|e| fail(format!("repeat: {e}")))?
            }
        };
        if kind != "block" {
            if let Some(bad) = args.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(fail(format!(
                    "unknown argument {bad:?}{}",
                    if allowed.is_empty() {
                        " (it takes none)".to_string()
                    } else {
                        format!(" (it takes {})", allowed.join(", "))
                    }
                )));
            }
        }
        let arg = |name: &str| -> Result<Option<f64>, NetError> {
            args.get(name)
                .map(|v| resolve(v, scope).map_err(|e| fail(format!("{name}: {e}"))))
                .transpose()
        };
        let flag = |name: &str, default: bool| -> Result<bool, NetError> {
            match args.get(name) {
                None => Ok(default),
                Some(toml::Value::Boolean(b)) => Ok(*b),
                Some(other) => Err(fail(format!("{name}: true or false, not {other}"))),
            }
        };
        let primary = |what: &str| -> Result<f64, NetError> {
            let v = value
                .as_ref()
                .filter(|v| !matches!(v, toml::Value::Boolean(_)))
                .ok_or_else(|| fail(format!("needs its {what}, e.g. {{ {kind} = ... }}")))?;
            resolve(v, scope).map_err(|e| fail(format!("{what}: {e}")))
        };
        let layers = match kind {
            "conv" => {
                let out = whole(primary("output channels")?, 1, MAX_WIDTH)
                    .map_err(|e| fail(format!("output channels: {e}")))?;
                let k = arg("k")?
                    .map_or(Ok(3), |k| whole(k, 1, 64))
                    .map_err(|e| fail(format!("k: {e}")))?;
                let stride = arg("stride")?
                    .map_or(Ok(1), |s| whole(s, 1, 64))
                    .map_err(|e| fail(format!("stride: {e}")))?;
                let pad = arg("pad")?
                    .map_or(Ok(k / 2), |p| whole(p, 0, 64))
                    .map_err(|e| fail(format!("pad: {e}")))?;
                vec![Layer::Conv {
                    out,
                    k,
                    stride,
                    pad,
                    bias: flag("bias", true)?,
                }]
            }
            "linear" => {
                let out = match &value {
                    Some(toml::Value::String(s)) if s == "classes" => Units::Classes,
                    _ => Units::Count(
                        whole(primary("outputs (a number or \"classes\")")?, 1, MAX_WIDTH)
                            .map_err(|e| fail(format!("outputs: {e}")))?,
                    ),
                };
                vec![Layer::Linear {
                    out,
                    bias: flag("bias", true)?,
                }]
            }
            "maxpool" | "avgpool" => {
                let k =
                    whole(primary("window side k")?, 1, 64).map_err(|e| fail(format!("k: {e}")))?;
                let stride = arg("stride")?
                    .map_or(Ok(k), |s| whole(s, 1, 64))
                    .map_err(|e| fail(format!("stride: {e}")))?;
                let pad = arg("pad")?
                    .map_or(Ok(0), |p| whole(p, 0, 64))
                    .map_err(|e| fail(format!("pad: {e}")))?;
                if 2 * pad > k {
                    return Err(fail(format!("pad {pad}: at most half the window ({k})")));
                }
                vec![Layer::Pool {
                    max: kind == "maxpool",
                    k,
                    stride,
                    pad,
                }]
            }
            "dropout" => {
                let p = match &value {
                    None => None,
                    Some(_) => {
                        let p = primary("probability")?;
                        if !(0.0..1.0).contains(&p) {
                            return Err(fail(format!("p {p}: from 0 to below 1")));
                        }
                        Some(p)
                    }
                };
                vec![Layer::Dropout { p }]
            }
            "leaky_relu" => {
                let slope = match value {
                    None => 0.01,
                    Some(_) => primary("slope")?,
                };
                vec![Layer::LeakyRelu { slope }]
            }
            "scale" => vec![Layer::Scale {
                factor: primary("factor")?,
            }],
            "whiten" => {
                let k = match value {
                    None => 2,
                    Some(_) => whole(primary("patch side k")?, 1, 8)
                        .map_err(|e| fail(format!("k: {e}")))?,
                };
                vec![Layer::Whiten { k }]
            }
            "residual" => {
                let body = value
                    .as_ref()
                    .and_then(toml::Value::as_array)
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| fail("its body: residual = [ layers ]".into()))?;
                let body = self.list(body, scope, &format!("{index}."), depth + 1)?;
                vec![Layer::Residual { body }]
            }
            "block" => {
                let name = value
                    .as_ref()
                    .and_then(toml::Value::as_str)
                    .ok_or_else(|| fail("its name: { block = \"NAME\" }".into()))?;
                let block = self.blocks.get(name).cloned().ok_or_else(|| {
                    fail(format!(
                        "no block {name:?} (the net's: {})",
                        self.blocks.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                })?;
                if depth >= MAX_DEPTH {
                    return Err(fail(format!(
                        "blocks nest deeper than {MAX_DEPTH} (does {name:?} use itself?)"
                    )));
                }
                let mut inner = scope.clone();
                for (k, v) in &args {
                    let x = resolve(v, scope).map_err(|e| fail(format!("{k}: {e}")))?;
                    inner.insert(k.clone(), x);
                }
                let layers = block["layers"].as_array().expect("checked when read");
                self.list(layers, &inner, &format!("{index}."), depth + 1)?
            }
            "bn" => {
                if !matches!(value, None | Some(toml::Value::Boolean(true))) {
                    return Err(fail(
                        "bn takes no value; write \"bn\", or { bn = true, learn_scale = false } for a norm that only shifts".into(),
                    ));
                }
                vec![Layer::BatchNorm {
                    scale: flag("learn_scale", true)?,
                }]
            }
            bare => {
                if value.is_some() {
                    return Err(fail(format!("{bare} takes no value; write \"{bare}\"")));
                }
                vec![match bare {
                    "relu" => Layer::Relu,
                    "gelu" => Layer::Gelu,
                    "tanh" => Layer::Tanh,
                    "gap" => Layer::GlobalAvgPool,
                    _ => Layer::Flatten,
                }]
            }
        };
        self.expanded += layers.len() * repeat;
        if self.expanded > MAX_LAYERS {
            return Err(fail(format!("the net expands past {MAX_LAYERS} layers")));
        }
        Ok(std::iter::repeat_n(layers, repeat).flatten().collect())
    }
}

/// A number, or a variable (`"$name"`) in scope.
fn resolve(v: &toml::Value, scope: &Scope) -> Result<f64, String> {
    match v {
        toml::Value::String(s) => match s.strip_prefix('$') {
            Some(name) => scope.get(name).copied().ok_or_else(|| {
                format!(
                    "${name} is not defined (in scope: {})",
                    if scope.is_empty() {
                        "nothing".to_string()
                    } else {
                        scope
                            .keys()
                            .map(|k| format!("${k}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )
            }),
            None => Err(format!("{s:?}: a number or a \"$variable\"")),
        },
        other => number(other).ok_or_else(|| format!("{other}: a number")),
    }
}

/// `x` as a whole number from `lo` to `hi`.
fn whole(x: f64, lo: usize, hi: usize) -> Result<usize, String> {
    if x.fract() != 0.0 || x < lo as f64 || x > hi as f64 {
        let what = if lo >= 1 && x <= 0.0 {
            " (a width of zero or less)"
        } else {
            ""
        };
        return Err(format!("{x}: a whole number from {lo} to {hi}{what}"));
    }
    Ok(x as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Result<Net, NetError> {
        parse_net("t", &toml::from_str(text).unwrap(), &[])
    }

    #[test]
    fn the_designs_example_reads_into_layers() {
        let n = net(r#"
vars = { width = 64 }
layers = [
  { conv = "$width", k = 3 }, "bn", "relu",
  { block = "res", c = "$width", repeat = 2 },
  { maxpool = 2 },
  { conv = 128, k = 3, stride = 2, bias = false }, "bn", "gelu",
  { dropout = 0.1 }, "gap", { linear = "classes" },
]
[blocks.res]
layers = [ { residual = [ { conv = "$c", k = 3 }, "bn", "relu", { conv = "$c", k = 3 }, "bn" ] }, "relu" ]
"#)
        .unwrap();
        assert_eq!(n.layers.len(), 3 + 4 + 1 + 3 + 3);
        assert_eq!(
            n.layers[0],
            Layer::Conv {
                out: 64,
                k: 3,
                stride: 1,
                pad: 1,
                bias: true
            }
        );
        match &n.layers[3] {
            Layer::Residual { body } => assert_eq!(body.len(), 5),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            n.layers[7],
            Layer::Pool {
                max: true,
                k: 2,
                stride: 2,
                pad: 0
            }
        );
        assert_eq!(
            n.layers[8],
            Layer::Conv {
                out: 128,
                k: 3,
                stride: 2,
                pad: 1,
                bias: false
            }
        );
        assert_eq!(
            n.layers[13],
            Layer::Linear {
                out: Units::Classes,
                bias: true
            }
        );
        let wide = parse_net(
            "t",
            &toml::from_str("vars = { w = 8 }\nlayers = [{ conv = \"$w\" }]").unwrap(),
            &[("w".into(), "16".into())],
        )
        .unwrap();
        assert_eq!(
            wide.layers[0],
            Layer::Conv {
                out: 16,
                k: 3,
                stride: 1,
                pad: 1,
                bias: true
            }
        );
    }

    #[test]
    fn a_bad_entry_is_one_line_naming_its_index_and_kind() {
        for (text, wanted) in [
            (
                "layers = [\"relu\", \"swish\"]",
                "net t: layer 1 (swish): unknown kind",
            ),
            (
                "layers = [{ conv = 8, kk = 3 }]",
                "net t: layer 0 (conv): unknown argument \"kk\"",
            ),
            (
                "layers = [{ conv = \"$w\" }]",
                "net t: layer 0 (conv): output channels: $w is not defined",
            ),
            ("layers = [{ conv = 0 }]", "a width of zero or less"),
            (
                "layers = [{ linear = -3 }]",
                "net t: layer 0 (linear): outputs: -3",
            ),
            (
                "layers = [{ residual = [{ conv = 8, stride = 0 }] }]",
                "net t: layer 0.0 (conv): stride: 0",
            ),
            (
                "layers = [{ block = \"b\" }]\n[blocks.b]\nlayers = [{ block = \"b\" }]",
                "use itself",
            ),
            ("layers = [{ conv = 8, linear = 3 }]", "one kind an entry"),
            ("layers = [{ dropout = 1.5 }]", "layer 0 (dropout): p 1.5"),
            (
                "layers = [{ maxpool = 2, pad = 2 }]",
                "at most half the window",
            ),
            ("layers = []", "needs a layer"),
            ("layer = [\"relu\"]", "unknown entry \"layer\""),
            ("layers = [{ conv = 8, repeat = 100000 }]", "repeat"),
        ] {
            let e = net(text).unwrap_err().to_string();
            assert!(e.contains(wanted), "{text}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let e = parse_net(
            "t",
            &toml::from_str("vars = { w = 8 }\nlayers = [\"relu\"]").unwrap(),
            &[("width".into(), "3".into())],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "net t: net.width: no such variable (the net's: w)"
        );
    }
}
