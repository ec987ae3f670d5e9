//! The CLI's commands: each opens what it needs, acts, and closes it again. `serve` is the
//! server (`startup::serve`); the others work on the database and, when they record something
//! in the audit log, seal it before they close (not at the server's next start).
use std::future::Future;

use app::ssr::db::backend::Db;
use sqlx::SqlitePool;

use app::ssr::actions;
use app::ssr::heal::RuleSet;
use app::ssr::inventory::InventoryHosts;

use crate::cli::{AuditCommand, Command, DbCommand, DevCommand, RetentionCommand, RulesCommand};
use crate::config::Config;
use crate::{audit, db_copy, retention, rules_diff, rules_test, startup, users};

/// Runs `command` with `config`.
pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => startup::serve(config).await,
        Command::CheckConfig => {
            print!("{}", config.summary());
            println!("configuration OK");
            Ok(())
        }
        Command::Rules(RulesCommand::Test { dir }) => rules_test::run(&dir, &config.build_rules()?),
        Command::Rules(RulesCommand::Diff { new, alerts }) => {
            let old = RuleSet::new(config.build_rules()?);
            let new = RuleSet::new(Config::load(Some(&new))?.build_rules()?);
            let inventory = config.ansible.inventory.clone();
            let hosts = InventoryHosts::new(config.ansible.inventory_command.clone(), inventory)
                .current_async()
                .await;
            let past = with_database(&config, Seal::No, |db| async move {
                Ok(rules_diff::recent_alerts(&db, alerts).await?)
            })
            .await?;
            print!("{}", rules_diff::report(&old, &new, &hosts, &past));
            Ok(())
        }
        Command::Migrate => {
            with_database(&config, Seal::No, |_| async { Ok(()) }).await?;
            println!("database {} is up to date", config.database.describe());
            Ok(())
        }
        Command::Db(DbCommand::Copy { to }) => {
            let started = std::time::Instant::now();
            let copied = with_database(&config, Seal::No, |db| async move {
                let Db::Sqlite(pool) = db else {
                    anyhow::bail!("db copy reads a SQLite database: this configuration's database is PostgreSQL already");
                };
                // The chain covers every event before it is copied (and verified on the copy).
                app::ssr::db::audit_chain::seal_audit(&pool).await?;
                db_copy::copy(&pool, &to).await
            })
            .await?;
            for (table, rows) in &copied.tables {
                println!("{table:<24} {rows:>10} rows");
            }
            println!(
                "copied {} into PostgreSQL in {:.1?}; every table compared, the audit chain verifies",
                config.database.describe(),
                started.elapsed()
            );
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => {
            let intact =
                with_database(&config, Seal::No, |db| async move { audit::verify(&db).await }).await?;
            anyhow::ensure!(intact, "the audit log was tampered with");
            Ok(())
        }
        Command::Retention(RetentionCommand::Run) => {
            let config = &config;
            let pruning = |db: Db| async move { retention::run_now(&db, config).await.map(|_| ()) };
            with_database(config, Seal::Yes, pruning).await
        }
        Command::Dev(DevCommand::Seed { alerts, runs, lines_per_run }) => {
            let size = app::ssr::db::seed::SeedSize { alerts, runs, lines_per_run };
            let started = std::time::Instant::now();
            let seeding = |db: Db| async move { Ok(app::ssr::db::seed::seed(&db, size).await?) };
            with_database(&config, Seal::No, seeding).await?;
            println!(
                "seeded {alerts} alerts, {runs} runs, {} output lines into {} in {:.1?}",
                runs * lines_per_run,
                config.database.describe(),
                started.elapsed()
            );
            // PostgreSQL's trigram index was kept as the rows went in.
            if config.database.sqlite().is_none() {
                return Ok(());
            }
            // Indexed for search as the server would (in the background), timed here.
            let indexing = std::time::Instant::now();
            let index = |db: Db| async move {
                Ok(app::ssr::db::alert_search::index_all(&sqlite_only(db, "the search index")?).await?)
            };
            let indexed = with_database(&config, Seal::No, index).await?;
            println!("indexed {indexed} alerts for search in {:.1?}", indexing.elapsed());
            Ok(())
        }
        Command::Pause { rule, reason } => {
            let rules = config.build_rules()?;
            with_database(&config, Seal::Yes, |db| async move {
                actions::pause_healing(&db, &rules, "cli", rule.as_deref(), &reason, Some("cli"))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
            })
            .await?;
            println!("healing paused");
            Ok(())
        }
        Command::Resume { rule } => {
            let rules = config.build_rules()?;
            with_database(&config, Seal::Yes, |db| async move {
                actions::resume_healing(&db, &rules, "cli", rule.as_deref(), Some("cli"))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
            })
            .await?;
            println!("healing resumed");
            Ok(())
        }
        Command::User(command) => {
            with_database(&config, Seal::Yes, |db| async move { users::run(&db, command).await }).await
        }
    }
}

/// Whether a command's audit entries are sealed before the database closes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seal {
    Yes,
    No,
}

/// Opens (and migrates) the database, runs `act`, seals the audit log if asked (even when
/// `act` failed: what it recorded before failing is sealed too), and closes the database.
async fn with_database<T, F, Fut>(config: &Config, seal: Seal, act: F) -> anyhow::Result<T>
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let db = startup::open(&config.database).await?;
    let outcome = act(db.clone()).await;
    let sealed = match seal {
        Seal::Yes => app::ssr::db::audit_chain::seal_audit(&db).await.map(|_| ()),
        Seal::No => Ok(()),
    };
    match db {
        Db::Sqlite(pool) => pool.close().await,
        Db::Pg(pool) => pool.close().await,
    }
    sealed?;
    outcome
}

/// The SQLite pool, for the commands that work on SQLite alone.
fn sqlite_only(db: Db, what: &str) -> anyhow::Result<SqlitePool> {
    match db {
        Db::Sqlite(pool) => Ok(pool),
        Db::Pg(_) => anyhow::bail!("{what} works on a SQLite database only"),
    }
}
