//! The `selfheal` command line (clap).
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};

use app::model::Role;

/// selfheal — Alertmanager webhooks in, verified Ansible heals out, every step audited.
#[derive(Debug, Parser)]
#[command(name = "selfheal", version, propagate_version = true)]
pub struct Cli {
    /// Config file. Default: ./selfheal.toml when it exists, else built-in defaults.
    /// Every key can also be set with a SELFHEAL_* environment variable.
    #[arg(long, short, global = true, env = "SELFHEAL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do; `serve` when nothing is given.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server: dashboard, /api, /webhook and /health on the `listen` address.
    /// Creates and migrates the database, and on the very first start the `admin` user.
    Serve,
    /// Validate the configuration, print it with secrets hidden, and exit (non-zero if invalid).
    CheckConfig,
    /// Create the database if needed, apply pending migrations, and exit.
    Migrate,
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// The database itself.
    #[command(subcommand)]
    Db(DbCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Pruning of old history (`[retention]`).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// The rules of the config, as tested code.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Development helpers.
    #[command(subcommand)]
    Dev(DevCommand),
    /// The kill switch: pause all healing (or one rule's), saying why. New alerts are decided
    /// `paused` and queued runs wait until `resume`. Audited; a running server follows at once.
    Pause {
        /// Pause only this rule.
        #[arg(long)]
        rule: Option<String>,
        /// Why (required; shown to everyone and kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// End a pause (of everything, or of one rule): the runs it held start.
    Resume {
        #[arg(long)]
        rule: Option<String>,
    },
}

/// `selfheal rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Decide the notifications of every case (`*.toml`) in DIR with the config's rules, as the
    /// server would, and compare with the decisions each case expects; a diff for each
    /// mismatch, non-zero exit when any case fails. Touches no database. Format: docs/operations.md.
    Test {
        /// The folder of cases (the shipped ones: ansible/rules-tests).
        dir: std::path::PathBuf,
    },
    /// What NEW's rules would change against the config's (the one in force): rules added,
    /// removed, each changed key; then the most recent stored alerts whose decision (before
    /// history) would differ.
    Diff {
        /// The config file with the new rules.
        new: std::path::PathBuf,
        /// How many recent alerts to decide again with both.
        #[arg(long, default_value_t = 1000)]
        alerts: i64,
    },
}

/// `selfheal dev ...`
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Fill the database with synthetic history (alerts over 30 days, finished runs with
    /// output) for benchmarks and trying the dashboard. Adds to what is there; seeded rows are
    /// already decided and finished, so nothing is healed.
    Seed {
        /// Alert episodes to add.
        #[arg(long, default_value_t = 10_000)]
        alerts: i64,
        /// Finished runs to add (each for one of the new alerts).
        #[arg(long, default_value_t = 1_000)]
        runs: i64,
        /// Output lines per run.
        #[arg(long, default_value_t = 100)]
        lines_per_run: i64,
    },
}

/// `selfheal db ...`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy this SQLite database — history, users, tokens, the audit chain — into an empty
    /// PostgreSQL database (the way up to several replicas, docs/ha.md). Refuses a database
    /// that holds rows already; copies in one transaction, compares every table afterwards and
    /// verifies the audit chain on the copy before committing. Stop selfheal first: what it
    /// writes after the copy starts stays behind. Sessions are not copied.
    Copy {
        /// The target: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…].
        #[arg(long)]
        to: String,
    },
}

/// `selfheal audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log's hash chain; name the first event that was edited, deleted or
    /// slipped in, and exit non-zero if there is one.
    Verify,
}

/// `selfheal retention ...`
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Prune everything `[retention]` says is due now, without the background task's time
    /// budget (audit events are exported first), print what went, and exit.
    Run,
}

/// `selfheal user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user with a role. The password is prompted for (twice), or read from the first
    /// line of standard input with --password-stdin.
    Add {
        /// User name: letters, digits, `.`, `_`, `-`, `@`; at most 64 characters.
        name: String,
        /// viewer: reads everything; operator: also heals, approves, cancels;
        /// admin: also manages users.
        #[arg(long, value_parser = role_parser())]
        role: Role,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for a user (prompted, or --password-stdin); their open sessions end.
    Passwd {
        /// The user's name.
        name: String,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users with their role and state.
    List,
    /// Disable a user: they can no longer log in, and their open sessions stop working.
    Disable {
        /// The user's name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user's name.
        name: String,
    },
}

fn role_parser() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(Role::ALL.map(Role::as_str))
        .map(|s| s.parse::<Role>().expect("possible values are valid roles"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn user_add_parses_its_role_and_refuses_unknown_ones() {
        let cli =
            Cli::try_parse_from(["selfheal", "user", "add", "bob", "--role", "operator", "--password-stdin"])
                .expect("valid");
        match cli.command {
            Some(Command::User(UserCommand::Add { name, role, password_stdin })) => {
                assert_eq!((name.as_str(), role, password_stdin), ("bob", Role::Operator, true));
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = Cli::try_parse_from(["selfheal", "user", "add", "bob", "--role", "root"]).unwrap_err();
        assert!(err.to_string().contains("root"), "{err}");
    }

    #[test]
    fn no_command_means_serve() {
        let cli = Cli::try_parse_from(["selfheal"]).expect("valid");
        assert!(cli.command.is_none());
    }
}
