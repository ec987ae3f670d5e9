//! The `selfheal` binary: parse the command line, read the config, run the command.
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use server::cli::{Cli, Command};
use server::config::Config;

/// Log filter when RUST_LOG is unset: our info, libraries' warnings.
const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,tower_sessions=warn,tower_sessions_core=warn";

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .init();

    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("selfheal: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(warning) = Config::exposed_secrets_warning(cli.config.as_deref()) {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("selfheal: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(server::commands::run(cli.command.unwrap_or(Command::Serve), config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("selfheal: {e:#}");
            ExitCode::FAILURE
        }
    }
}
