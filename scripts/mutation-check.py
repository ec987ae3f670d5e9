#!/usr/bin/env python3
"""Removes each hardening protection once and checks that its test then fails (issue #7:
"tests that fail when the protection is removed"). Each mutation is a literal replacement in
one file, restored afterwards whatever happens. Slow (one rebuild per mutation), so not part of
CI: run it by hand after touching a protection, and paste the table into docs/hardening.md.

    scripts/mutation-check.py            # all
    scripts/mutation-check.py csrf       # those whose name contains "csrf"
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (protection, file, text, replacement, test command that must FAIL once every occurrence of the
# text is replaced). A test that fails to build does not count as caught.
MUTATIONS = [
    ("every acknowledged alert is committed before its 2xx", "app/src/ssr/db/inbox.rs",
     "    tx.commit()?;\n    Ok(Written { stored, decided })\n",
     "    drop(tx);\n    Ok(Written { stored, decided })\n",
     "cargo test -q -p server --test integration crash_safety::"),
    # Issue 24: one decider, in the commit that stores the episode.
    ("every new episode is decided in the commit that stores it", "app/src/ssr/db/inbox.rs",
     "    let decided = decide_and_store(&tx, rules, &episodes, now, &now_text)?;\n    tx.commit()?;\n    Ok(Written",
     "    let decided = Vec::new();\n    let _ = (&episodes, decide_and_store);\n    tx.commit()?;\n    Ok(Written",
     "cargo test -q -p server --test integration engine::"),
    ("a run decided early in a batch counts for the episodes after it", "app/src/ssr/heal/decide.rs",
     "                h.active_run |= queued.contains(target);\n", "",
     "cargo test -q -p app --features ssr --lib heal::decide"),
    ("serve stops every background task, the session sweeper too", "server/src/startup.rs",
     "        () = stop.cancelled() => Ok(()),\n        swept = store", "        () = std::future::pending::<()>() => Ok(()),\n        swept = store",
     "cargo test -q -p server --test integration sigterm_while_verifying"),
    ("labels that cannot be read are refused, not taken for none", "app/src/ssr/alert.rs",
     "serde_json::from_str(json).map(Labels)", "Ok::<_, serde_json::Error>(serde_json::from_str(json).unwrap_or_default()).map(Labels)",
     "cargo test -q -p app --features ssr --lib labels_that_cannot_be_read"),
    ("a run whose extra vars cannot be read fails without running", "server/src/worker.rs",
     "        let ending = match unreadable {\n", "        let _ = &unreadable;\n        let ending = match None::<String> {\n",
     "cargo test -q -p server --test integration a_run_whose_stored_extra_vars"),
    ("episodes an earlier version left undecided are decided at start", "server/src/intake.rs",
     "match decide_leftovers(&mut conn, &self.rules, &self.hosts.current()) {",
     "match Ok::<Vec<app::ssr::db::inbox::Decided>, app::ssr::db::inbox::Error>(Vec::new()) {",
     "cargo test -q -p server --test integration episodes_an_earlier_version"),
    ("runs left running are recovered at start", "server/src/startup.rs",
     "    recover_runs(&pool, &intake.metrics).await?;\n", "    let _ = recover_runs;\n",
     "cargo test -q -p server --test integration crash_safety::"),
    ("cross-site POSTs refused", "server/src/lib.rs",
     "        .layer(middleware::from_fn(csrf::refuse_cross_site))\n", "",
     "cargo test -q -p server --test integration server_functions_refuse"),
    ("heal now needs an operator", "app/src/api/heal.rs",
     "    let user = auth::require_role(Role::Operator).await?;\n", "    let user = auth::require_role(Role::Viewer).await?;\n",
     "cargo test -q -p server --test integration every_server_function"),
    ("failed logins throttled", "app/src/ssr/db/login_attempts.rs",
     "WHERE username = ?1 AND at >= ?4 AND outcome <> 'succeeded') < ?5",
     "WHERE username = ?1 AND at >= ?4 AND outcome <> 'succeeded') < ?5 + 1000",
     "cargo test -q -p server --test integration repeated_failures"),
    ("login attempts reserved before the password check", "app/src/ssr/db/login_attempts.rs",
     "outcome <> 'succeeded'", "outcome = 'failed'",
     "cargo test -q -p server --test integration parallel_wrong_guesses"),
    ("throttle keys are case-folded user names", "app/src/ssr/auth.rs",
     "        name.to_ascii_lowercase()\n", "        name.to_owned()\n",
     "cargo test -q -p server --test integration case_variants"),
    ("refused logins audited once per name, address and minute with a count", "app/src/ssr/db/login_attempts.rs",
     "ON CONFLICT (username, source, minute) DO UPDATE SET attempts = attempts + 1", "ON CONFLICT DO NOTHING",
     "cargo test -q -p server --test integration parallel_wrong_guesses"),
    ("a --limit names one host of the inventory", "app/src/ssr/heal.rs",
     "            hosts.check(&host).map_err(", "            Ok::<(), String>(()).map_err(",
     "cargo test -q -p app --features ssr --lib heal"),
    ("forwarded headers believed only from trusted proxies", "app/src/ssr/client_ip.rs",
     "    if !is_trusted(&peer) {", "    if false {",
     "cargo test -q -p server --test integration behind_a_trusted_proxy"),
    ("only http(s) URLs from alert data become links", "app/src/model.rs",
     '(lower.starts_with("http://") || lower.starts_with("https://")).then_some(url)', "Some(url)",
     "cargo test -q -p server --test integration alert_urls"),
    ("reserved user names refused at creation", "app/src/ssr/auth.rs",
     "    if RESERVED_USERNAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {", "    if false {",
     "cargo test -q -p server --test integration an_admin_adds"),
    ("guessable passwords refused", "app/src/ssr/auth.rs",
     "    if u8::from(estimate.score()) < MIN_PASSWORD_SCORE {", "    if false {",
     "cargo test -q -p server --test integration an_admin_adds"),
    ("a disabled creator's tokens stop working", "app/src/ssr/db/api_tokens.rs",
     "u.disabled = 0", "u.disabled IN (0, 1)",
     "cargo test -q -p app --features ssr --lib api_tokens"),
    ("system-recovery spares its protected list", "ansible/system-recovery.yml",
     '    recovery_protected: ["^nginx: master process", "sshd", "systemd", "selfheal", "ansible"]',
     "    recovery_protected: []",
     "RUN_E2E=1 cargo test -q -p server --test e2e system_recovery"),
    ("system-recovery searches only its own nginx", "ansible/files/find_runaways.py",
     "(scope is not None and pid not in scope)", "False",
     "RUN_E2E=1 cargo test -q -p server --test e2e system_recovery"),
    ("session id cycled at login", "app/src/api/auth.rs",
     "    session.cycle_id().await.map_err(|e| internal(\"session cycle failed\", e))?;\n", "",
     "cargo test -q -p server --test integration auth::"),
    ("ansible_* label names refused", "app/src/ssr/heal/rule.rs",
     'if name.starts_with("ansible_") || name == "selfheal" {', 'if name == "selfheal" {',
     "cargo test -q -p app --features ssr --lib heal"),
    ("audit hash chain covers the detail", "app/src/ssr/db/audit_chain.rs",
     "e.actor, e.action, e.target, e.detail, e.source]", "e.actor, e.action, e.target, e.source]",
     "cargo test -q -p app --features ssr --lib audit_chain"),
    # Both delete triggers (events and their seals): each alone is also held by the other and
    # by the foreign key from audit_chain to audit_events.
    ("unexported audit events cannot be deleted", "migrations/20261122100000_enable_retention.sql",
     "WHEN NOT EXISTS (SELECT 1 FROM audit_exports WHERE old.", "WHEN 0 = 1 AND NOT EXISTS (SELECT 1 FROM audit_exports WHERE old.",
     "cargo test -q -p app --features ssr --lib audit_export"),
    ("retention keeps alerts with an active run", "app/src/ssr/db/retention.rs",
     "WHERE status IN {active} AND alert_id IS NOT NULL)", "WHERE 0)",
     "cargo test -q -p app --features ssr --lib retention"),
    ("retention keeps the newest alert (no id reuse)", "app/src/ssr/db/retention.rs",
     "AND decided_at IS NOT NULL AND id < (SELECT max(id) FROM alerts)", "AND decided_at IS NOT NULL",
     "cargo test -q -p app --features ssr --lib retention"),
    ("secrets redacted in stored output", "server/src/worker/output.rs",
     "        if !self.0.iter().any(|v| line.contains(v.as_str())) {", "        if !line.is_empty() {",
     "cargo test -q -p server --test integration ansible::"),
    ("revoked API tokens refused", "app/src/ssr/db/api_tokens.rs",
     "WHERE token_sha256 = ? AND revoked_at IS NULL \\", "WHERE token_sha256 = ? \\",
     "cargo test -q -p server --test integration a_token_made"),
    ("X-Frame-Options DENY", "server/src/lib.rs",
     'HeaderValue::from_static("DENY")', 'HeaderValue::from_static("SAMEORIGIN")',
     "cargo test -q -p server --test integration headers::"),
    ("firing count kept exact on status changes", "migrations/20261122190000_key_alerts_by_time.sql",
     "WHEN old.status <> new.status\nBEGIN\n    UPDATE alert_counts SET n = n - 1 WHERE status = old.status;\n",
     "WHEN old.status <> new.status\nBEGIN\n",
     "cargo test -q -p app --features ssr --lib inbox"),
    ("a password change or disable ends the user's sessions", "app/src/ssr/auth.rs",
     "Some(r) if !r.disabled && r.session_epoch == epoch.unwrap_or(0) => {", "Some(r) if !r.disabled => {",
     "cargo test -q -p server --test integration -- account:: user_admin::"),
    ("a wrong current password counts as a failed login", "app/src/ssr/own_password.rs",
     "    auth::settle_login_attempt(pool, attempt, right).await.map_err(db)?;",
     "    auth::settle_login_attempt(pool, attempt, true).await.map_err(db)?;",
     "cargo test -q -p server --test integration account::"),
    # Issue 25: slow and idle clients must not hold the server's file descriptors.
    ("slow request heads and idle keep-alive connections time out", "server/src/listen.rs",
     "http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);",
     "http.timer(TokioTimer::new()).header_read_timeout(None);",
     "cargo test -q -p server --test integration slow_clients::"),
    ("stalled request bodies time out", "server/src/listen.rs",
     "RequestBodyTimeoutLayer::new(limits.body_timeout)", "RequestBodyTimeoutLayer::new(Duration::from_secs(86_400))",
     "cargo test -q -p server --test integration idle_keep_alive_connections_and_stalled_bodies"),
    ("open connections capped", "server/src/listen.rs",
     "Semaphore::new(limits.max_connections as usize)", "Semaphore::new(Semaphore::MAX_PERMITS)",
     "cargo test -q -p server --test integration connections_over_the_cap"),
    # Verification is its own stage: resumed at start, ended when its window closed while down,
    # cancelled (and left pending) by a stop, never holding a playbook slot.
    ("pending verifications resumed at start", "server/src/verifier.rs",
     "        if let Err(e) = self.resume().await {\n", "        if let Err(e) = Ok::<(), sqlx::Error>(()) {\n",
     "cargo test -q -p server --test integration kill_9_resumes"),
    ("a verification whose window closed while down ends inconclusive", "server/src/verifier.rs",
     "            if window_left(p.finished_at.as_deref(), millis(p.verify_within_ms), now).is_some() {\n",
     "            if true {\n",
     "cargo test -q -p server --test integration window_closed"),
    ("a stop cancels verifications and leaves them pending", "server/src/verifier.rs",
     "            () = self.stop.cancelled() => match run_verification::release_verification",
     "            () = std::future::pending::<()>() => match run_verification::release_verification",
     "cargo test -q -p server --test integration sigterm_while_verifying"),
    ("a run being verified frees its playbook slot", "server/src/worker.rs",
     "            self.verifier.wake();\n            return;\n",
     "            self.verifier.wake();\n            self.stop.cancelled().await;\n            return;\n",
     "cargo test -q -p server --test integration does_not_hold_the_playbook_slot"),
]


def main():
    os.chdir(ROOT)
    if subprocess.run(["git", "diff", "--quiet"]).returncode != 0:
        sys.exit("commit or stash your changes first: mutations are undone with git checkout")
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    rows, missed = [], 0
    for name, path, text, replacement, cmd in MUTATIONS:
        if only and only not in name:
            continue
        source = open(path).read()
        if text not in source:
            rows.append(f"| {name} | mutation no longer applies: update this script |")
            missed += 1
            continue
        try:
            open(path, "w").write(source.replace(text, replacement))
            print(f"-- {name}: {cmd}", flush=True)
            run = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        finally:
            subprocess.run(["git", "checkout", "-q", "--", path], check=True)
        output = run.stdout + run.stderr
        if run.returncode == 0:
            rows.append(f"| {name} | **missed**: `{cmd}` still passes |")
            missed += 1
        elif "test result: FAILED" in output or "panicked" in output:
            # cargo test's closing "failures:" list: one indented test name per line.
            failing = sorted({l.strip().split("::")[-1] for l in output.splitlines() if re.fullmatch(r"    \S+", l)})
            rows.append(f"| {name} | caught: `{cmd}` fails{(' (' + ', '.join(failing) + ')') if failing else ''} |")
        else:
            rows.append(f"| {name} | **did not build**: fix the mutation in this script |")
            missed += 1
    print("\n| protection removed | result |\n|---|---|")
    print("\n".join(rows))
    print(f"\n{len(rows) - missed} caught, {missed} missed")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
