//! The `selfheal` binary itself: user commands, config checks, migrations, help.
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_selfheal");

/// Runs `selfheal ARGS` with its database in `dir`, feeding `stdin`.
fn selfheal(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("SELFHEAL_CONFIG")
        .env("SELFHEAL_DATABASE", dir.join("db/selfheal.db"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("selfheal starts");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("selfheal exits")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn user_add_list_passwd_disable_enable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = selfheal(
        d,
        &["user", "add", "bob", "--role", "viewer", "--password-stdin"],
        "tulip harbor anvil 42\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(d.join("db/selfheal.db").exists(), "database created with its folder");

    let dup = selfheal(d, &["user", "add", "BOB", "--role", "admin", "--password-stdin"], "x-password\n");
    assert!(!dup.status.success());
    assert!(text(&dup).contains("already exists"), "{}", text(&dup));

    let reserved = selfheal(
        d,
        &["user", "add", "system", "--role", "admin", "--password-stdin"],
        "tulip harbor anvil 42\n",
    );
    assert!(!reserved.status.success());
    assert!(text(&reserved).contains("reserved"), "{}", text(&reserved));
    let weak =
        selfheal(d, &["user", "add", "carol", "--role", "admin", "--password-stdin"], "carol-1234567\n");
    assert!(!weak.status.success());
    assert!(text(&weak).contains("user name"), "{}", text(&weak));

    let short = selfheal(d, &["user", "add", "carol", "--role", "admin", "--password-stdin"], "short\n");
    assert!(!short.status.success());
    assert!(text(&short).contains("at least 12"), "{}", text(&short));

    let list = selfheal(d, &["user", "list"], "");
    let listing = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        listing.lines().any(|l| l.starts_with("bob ") && l.contains("viewer") && l.contains("active")),
        "{listing}"
    );
    assert!(!listing.contains("carol"), "a refused add writes nothing: {listing}");

    assert!(selfheal(d, &["user", "passwd", "bob", "--password-stdin"], "copper lantern ferry 7\n")
        .status
        .success());
    assert!(selfheal(d, &["user", "disable", "bob"], "").status.success());
    let listing = String::from_utf8_lossy(&selfheal(d, &["user", "list"], "").stdout).to_string();
    assert!(listing.lines().any(|l| l.starts_with("bob ") && l.contains("disabled")), "{listing}");
    assert!(selfheal(d, &["user", "enable", "bob"], "").status.success());
    let missing = selfheal(d, &["user", "disable", "nobody"], "");
    assert!(!missing.status.success());
    assert!(text(&missing).contains("no user `nobody`"));
}

#[test]
fn a_password_prompt_needs_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = selfheal(dir.path(), &["user", "add", "dave", "--role", "operator"], "");
    assert!(!out.status.success());
    assert!(text(&out).contains("--password-stdin"), "{}", text(&out));
}

#[test]
fn check_config_validates_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new(BIN)
        .args(["check-config"])
        .current_dir(dir.path())
        .env_remove("SELFHEAL_CONFIG")
        .env("SELFHEAL_WEBHOOK_PASSWORD", "very-secret-value")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("webhook.password = <set>"), "{}", text(&ok));
    assert!(!text(&ok).contains("very-secret-value"));

    std::fs::write(dir.path().join("bad.toml"), "listen = \"nowhere\"\n").unwrap();
    let bad = Command::new(BIN)
        .args(["--config", "bad.toml", "check-config"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("listen"), "{}", text(&bad));

    let via_env = Command::new(BIN)
        .args(["check-config"])
        .current_dir(dir.path())
        .env("SELFHEAL_CONFIG", "bad.toml")
        .output()
        .unwrap();
    assert_eq!(via_env.status.code(), Some(2), "SELFHEAL_CONFIG names the file");
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = selfheal(dir.path(), &["migrate"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("db/selfheal.db").exists());
    assert!(selfheal(dir.path(), &["migrate"], "").status.success(), "idempotent");
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["check-config", "--help"],
        &["migrate", "--help"],
        &["user", "--help"],
        &["user", "add", "--help"],
        &["user", "passwd", "--help"],
        &["user", "list", "--help"],
        &["user", "disable", "--help"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{args:?}");
    }
}

#[tokio::test]
async fn audit_verify_detects_an_edited_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["ann", "ben", "cas"] {
        let out = selfheal(
            d,
            &["user", "add", name, "--role", "viewer", "--password-stdin"],
            "tulip harbor anvil 42\n",
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let ok = selfheal(d, &["audit", "verify"], "");
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("audit log intact: 3 events sealed, 0 newer"), "{}", text(&ok));

    // Someone with the database file rewrites history: drop the guard, change who did it.
    let url = format!("sqlite://{}", d.join("db/selfheal.db").display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    for sql in [
        "DROP TRIGGER audit_events_no_update",
        "UPDATE audit_events SET actor = 'someone-else' WHERE target = 'ben'",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    let id: i64 = sqlx::query_scalar("SELECT id FROM audit_events WHERE target = 'ben'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let broken = selfheal(d, &["audit", "verify"], "");
    assert!(!broken.status.success(), "{}", text(&broken));
    assert!(text(&broken).contains(&format!("audit log BROKEN at event {id}")), "{}", text(&broken));
}

#[tokio::test]
async fn dev_seed_adds_decided_alerts_and_finished_runs_with_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = selfheal(d, &["dev", "seed", "--alerts", "2000", "--runs", "300", "--lines-per-run", "7"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("seeded 2000 alerts, 300 runs, 2100 output lines"), "{}", text(&out));
    let url = format!("sqlite://{}", d.join("db/selfheal.db").display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let counts: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM alerts WHERE decided_at IS NULL), \
                (SELECT count(*) FROM heal_runs), \
                (SELECT count(*) FROM heal_runs WHERE status IN ('queued', 'running', 'awaiting_approval')), \
                (SELECT count(*) FROM run_output)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(counts, (2000, 0, 300, 0, 2100), "(alerts, undecided, runs, unfinished, lines)");
    let names: i64 = sqlx::query_scalar("SELECT count(DISTINCT alertname) FROM alerts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(names, 8);
}

#[tokio::test]
async fn pause_and_resume_from_the_command_line_are_audited_and_need_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = selfheal(d, &["pause"], "");
    assert!(!missing.status.success(), "a reason is required");
    assert!(text(&missing).contains("--reason"), "{}", text(&missing));
    let unknown = selfheal(d, &["pause", "--rule", "nope", "--reason", "x"], "");
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("no rule `nope`"), "{}", text(&unknown));

    let paused = selfheal(d, &["pause", "--reason", "storage maintenance"], "");
    assert!(paused.status.success(), "{}", text(&paused));
    let resumed = selfheal(d, &["resume"], "");
    assert!(resumed.status.success(), "{}", text(&resumed));
    let twice = selfheal(d, &["resume"], "");
    assert!(!twice.status.success() && text(&twice).contains("not paused"), "{}", text(&twice));

    let db =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", d.join("db/selfheal.db").display())).await.unwrap();
    let audit: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, action, detail FROM audit_events WHERE action LIKE 'healing.%' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    db.close().await;
    assert_eq!(
        audit,
        [
            ("cli".into(), "healing.pause".into(), "storage maintenance".into()),
            ("cli".into(), "healing.resume".into(), "resumed".into()),
        ]
    );
}
