//! The terminal dashboard.

use crate::cli::DashboardArgs;
use anyhow::Result;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Opens the dashboard.
pub fn run(_args: DashboardArgs) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal on stdout; for headless training use `gradboard train --preset NAME`");
    }
    anyhow::bail!(
        "the dashboard is not part of this build yet; use `gradboard train --preset NAME`"
    )
}
