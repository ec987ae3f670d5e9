//! `selfheal user ...`: user administration from the terminal, audited as actor `cli`.
use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use app::ssr::db::backend::Db;

use app::ssr::auth;
use app::ssr::db::audit::{record_audit, NewAuditEvent};
use app::ssr::db::users;

use crate::cli::UserCommand;

/// Runs one user command against the database.
pub async fn run(pool: &Db, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { name, role, password_stdin } => {
            auth::validate_new_username(&name).map_err(anyhow::Error::msg)?;
            if users::find_user_by_name(pool, &name).await?.is_some() {
                bail!(
                    "user `{name}` already exists (use `selfheal user passwd {name}` to change the password)"
                );
            }
            let hash = hash(read_password(password_stdin)?, &name).await?;
            users::insert_user(pool, &name, &hash, role).await?;
            audit(pool, "user.add", &name, &format!("role {role}")).await?;
            println!("added user `{name}` with role {role}");
        }
        UserCommand::Passwd { name, password_stdin } => {
            match users::find_user_by_name(pool, &name).await? {
                None => bail!("no user `{name}`"),
                Some(u) if u.source != app::model::UserSource::Local => bail!(
                    "`{name}` signs in through {}: their password is the directory's, not selfheal's",
                    u.source.label()
                ),
                Some(_) => {}
            }
            let hash = hash(read_password(password_stdin)?, &name).await?;
            users::set_password(pool, &name, &hash).await?;
            audit(pool, "user.passwd", &name, "password changed").await?;
            println!("password of `{name}` changed");
        }
        UserCommand::List => {
            let list = users::list_users(pool).await?;
            println!("{:<24} {:<9} {:<9} {:<6} CREATED (UTC)", "NAME", "ROLE", "STATE", "SOURCE");
            for u in list {
                let state = if u.disabled { "disabled" } else { "active" };
                let source = u.source.label();
                println!(
                    "{:<24} {:<9} {:<9} {source:<6} {}",
                    u.username,
                    u.role.as_str(),
                    state,
                    u.created_at
                );
            }
        }
        UserCommand::Disable { name } => set_disabled(pool, &name, true).await?,
        UserCommand::Enable { name } => set_disabled(pool, &name, false).await?,
    }
    Ok(())
}

/// Logs a warning for each existing user whose name is now reserved (created before names were
/// checked): its audit entries and heal-now runs look like the system's. Returns their names.
pub async fn report_reserved_usernames(pool: &Db) -> anyhow::Result<Vec<String>> {
    let reserved: Vec<String> = users::list_users(pool)
        .await?
        .into_iter()
        .map(|u| u.username)
        .filter(|name| auth::is_reserved_username(name))
        .collect();
    for name in &reserved {
        tracing::warn!(
            user = %name,
            "a user has a reserved name: their actions look like selfheal's own; rename by adding a new user and disabling this one"
        );
    }
    Ok(reserved)
}

async fn set_disabled(pool: &Db, name: &str, disabled: bool) -> anyhow::Result<()> {
    if !users::set_disabled(pool, name, disabled).await? {
        bail!("no user `{name}`");
    }
    let (action, word) = if disabled { ("user.disable", "disabled") } else { ("user.enable", "enabled") };
    audit(pool, action, name, word).await?;
    println!("user `{name}` {word}");
    Ok(())
}

async fn audit(pool: &Db, action: &str, target: &str, detail: &str) -> anyhow::Result<()> {
    let event = NewAuditEvent {
        actor: "cli",
        action,
        target: Some(target),
        detail: Some(detail),
        source: Some("cli"),
    };
    record_audit(pool, &event).await.context("cannot write the audit log")
}

async fn hash(password: String, username: &str) -> anyhow::Result<auth::PasswordHash> {
    auth::validate_password(&password, username).map_err(anyhow::Error::msg)?;
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await?
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// The new password: the first line of stdin, or typed twice at a prompt without echo.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
        let password = line.strip_suffix('\n').unwrap_or(&line);
        let password = password.strip_suffix('\r').unwrap_or(password);
        return Ok(password.to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to prompt for a password: pass --password-stdin and pipe it in");
    }
    let first = rpassword::prompt_password("New password: ")?;
    let second = rpassword::prompt_password("Repeat it: ")?;
    if first != second {
        bail!("the two passwords differ; nothing changed");
    }
    Ok(first)
}
