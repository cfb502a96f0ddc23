//! `gradboard net`: the nets of the preset folders, and a net's summary (each layer's output
//! shape, parameters and FLOP an image, the totals, a training step's memory), as torchinfo or
//! Keras print one.

use anyhow::Result;
use gradboard::config::net::{list_nets, load_net, net_dirs, net_overrides};
use gradboard::config::PresetDirs;
use gradboard::model::summary::summarise;
use std::path::PathBuf;
use std::process::ExitCode;

use gradboard::model::summary::CIFAR;

/// What `gradboard net` does.
#[derive(Debug, clap::Subcommand)]
pub enum NetAction {
    /// List the nets (presets/nets/ and ~/.config/gradboard/nets/) with their descriptions.
    List,
    /// A net's summary: each layer's kind, output shape, parameters and FLOP an image; the
    /// totals; the memory a training step needs at the batch size.
    Show {
        /// A net's name, or a .toml file.
        net: String,
        /// A net variable, net.VAR=VALUE, or a data key (image_size, channels, label,
        /// test_split) for --data (repeatable).
        #[arg(long = "set", value_name = "net.VAR=VALUE")]
        sets: Vec<String>,
        /// Take the input's shape and class count from this data set (default: CIFAR-10's
        /// [3, 32, 32] and 10 classes, nothing read).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The batch size the memory is worked out for.
        #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        batch_size: u32,
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// Lists the nets or prints one's summary.
pub fn run(action: NetAction) -> Result<ExitCode> {
    let dirs = net_dirs(&PresetDirs::discover());
    match action {
        NetAction::List => {
            let nets = list_nets(&dirs);
            let width = nets.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, path) in nets {
                let line = match load_net(&path.display().to_string(), &dirs, &[]) {
                    Ok(net) => net.description,
                    Err(e) => format!("(unreadable: {e})"),
                };
                println!("{name:width$}  {line}");
            }
        }
        NetAction::Show {
            net,
            sets,
            data,
            batch_size,
            json,
        } => {
            // net.VAR sets the net's variables; the data keys (image_size, channels, label,
            // test_split) how --data is read.
            let (net_sets, data_sets): (Vec<String>, Vec<String>) = sets
                .into_iter()
                .partition(|s| s.trim_start().starts_with("net."));
            let net = load_net(&net, &dirs, &net_overrides(&net_sets)?)?;
            if let Some(s) = data_sets.first().filter(|_| data.is_none()) {
                anyhow::bail!("--set {s}: a net's variables are set as net.VAR=VALUE (data keys go with --data)");
            }
            let reading = super::data::reading(&data_sets)
                .map_err(|e| anyhow::anyhow!("{e} (a net's variables: net.VAR=VALUE)"))?;
            let (input, classes) = match data {
                None => CIFAR,
                Some(path) => {
                    let data = crate::data_setup::load_data(&path, &reading)?;
                    gradboard::model::summary::input_of(data.shape)
                }
            };
            let summary = summarise(&net, input, classes)?;
            let batch = batch_size as usize;
            if json {
                println!("{}", summary.json(batch));
            } else {
                println!("net {}: {}\n", net.name, net.description);
                print!("{}", summary.table(batch));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
