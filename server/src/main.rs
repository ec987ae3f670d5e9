//! The `selfheal` binary: parse the command line, read the config, run the command.
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use server::cli::{AuditCommand, Cli, Command, DevCommand, RetentionCommand};
use server::config::Config;
use server::{audit, retention, startup, users};

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
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => startup::serve(config).await,
            Command::CheckConfig => {
                print!("{}", config.summary());
                println!("configuration OK");
                Ok(())
            }
            Command::Migrate => {
                let pool = startup::open_database(&config.database).await?;
                pool.close().await;
                println!("database {} is up to date", config.database.display());
                Ok(())
            }
            Command::Audit(AuditCommand::Verify) => {
                let pool = startup::open_database(&config.database).await?;
                let intact = audit::verify(&pool).await;
                pool.close().await;
                if !intact? {
                    anyhow::bail!("the audit log was tampered with");
                }
                Ok(())
            }
            Command::Retention(RetentionCommand::Run) => {
                let pool = startup::open_database(&config.database).await?;
                let outcome = retention::run_now(&pool, &config).await;
                // The `retention.pruned` event is sealed now, not at the server's next start.
                let sealed = app::ssr::db::audit_chain::seal_audit(&pool).await;
                pool.close().await;
                sealed?;
                outcome.map(|_| ())
            }
            Command::Dev(DevCommand::Seed { alerts, runs, lines_per_run }) => {
                let size = app::ssr::db::seed::SeedSize { alerts, runs, lines_per_run };
                let pool = startup::open_database(&config.database).await?;
                let started = std::time::Instant::now();
                let seeded = app::ssr::db::seed::seed(&pool, size).await;
                pool.close().await;
                seeded?;
                println!(
                    "seeded {alerts} alerts, {runs} runs, {} output lines into {} in {:.1?}",
                    runs * lines_per_run,
                    config.database.display(),
                    started.elapsed()
                );
                Ok(())
            }
            Command::User(command) => {
                let pool = startup::open_database(&config.database).await?;
                let outcome = users::run(&pool, command).await;
                // What the CLI recorded is sealed now, not at the server's next start.
                let sealed = app::ssr::db::audit_chain::seal_audit(&pool).await;
                pool.close().await;
                sealed?;
                outcome
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("selfheal: {e:#}");
            ExitCode::FAILURE
        }
    }
}
