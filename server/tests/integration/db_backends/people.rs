//! The audit log's writes, the login throttle, users, directory users and API tokens.
use app::model::{Role, UserSource};
use app::ssr::auth::PasswordHash;
use app::ssr::db::audit::{record_audit, record_audits, NewAuditEvent};
use app::ssr::db::directory_users::{self, Recorded};
use app::ssr::db::login_attempts::{self as attempts, Limits, Outcome};
use app::ssr::db::{api_tokens, users};
use app::ssr::directory::roles::Granted;

use super::{both, on_both};

#[tokio::test]
async fn the_people_side_behaves_alike_on_sqlite_and_postgres() {
    let (_dir, sqlite, _pg, pg) = both().await;

    macro_rules! audit {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let one =
                NewAuditEvent { actor: "ann", action: "user.add", target: Some("bob"), ..Default::default() };
            record_audit(pool, &one).await.unwrap();
            // More than one statement's worth, through a transaction.
            let many: Vec<NewAuditEvent<'_>> = (0..300)
                .map(|_| NewAuditEvent {
                    actor: "engine",
                    action: "engine.labels_rejected",
                    detail: Some("tab\there"),
                    ..Default::default()
                })
                .collect();
            let mut tx = pool.begin().await.unwrap();
            record_audits(&mut tx, &many).await.unwrap();
            tx.commit().await.unwrap();
            let rows: Vec<(i64, String, String, Option<String>)> =
                sqlx::query_as("SELECT id, at, action, detail FROM audit_events ORDER BY id")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            assert_eq!(rows.len(), 301, "{}", $name);
            assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "{}: ids ascend", $name);
            assert_eq!(
                (rows[0].2.as_str(), rows[300].3.as_deref()),
                ("user.add", Some("tab\there")),
                "{}",
                $name
            );
            assert_eq!(rows[0].1.len(), "2026-12-06T10:00:00.000Z".len(), "{}: {}", $name, rows[0].1);
            assert!(rows[0].1.ends_with('Z') && rows[0].1.as_bytes()[10] == b'T', "{}: {}", $name, rows[0].1);
        }};
    }
    on_both!(&sqlite, &pg, audit);

    macro_rules! login_attempts {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let limits = Limits { per_name: 2, per_source: 3, window: std::time::Duration::from_secs(900) };
            let now = time::OffsetDateTime::now_utc();
            // Twenty guesses at once for one name: exactly its limit get through.
            let guesses = (0..20).map(|i| {
                let pool = pool.clone();
                let source = format!("192.0.2.{i}");
                async move { attempts::reserve_login_attempt(&pool, "ann", Some(&source), limits, now).await.unwrap() }
            });
            let reserved: Vec<Option<i64>> = futures_util::future::join_all(guesses).await;
            let through: Vec<i64> = reserved.into_iter().flatten().collect();
            assert_eq!(through.len(), 2, "{}: parallel guesses all count", $name);
            // One succeeds: it no longer counts, so one more may try.
            attempts::settle_login_attempt(pool, through[0], Outcome::Succeeded).await.unwrap();
            attempts::settle_login_attempt(pool, through[1], Outcome::Failed).await.unwrap();
            let third = attempts::reserve_login_attempt(pool, "ann", Some("192.0.2.99"), limits, now).await.unwrap();
            let third = third.expect("a success frees its place");
            assert_eq!(attempts::reserve_login_attempt(pool, "ann", None, limits, now).await.unwrap(), None, "{}", $name);
            attempts::forget_login_attempt(pool, third).await.unwrap();
            assert!(attempts::reserve_login_attempt(pool, "ann", None, limits, now).await.unwrap().is_some(), "{}: forgotten", $name);
            // Refusals counted per name, address and minute, then flushed into one audit event.
            for _ in 0..3 {
                attempts::count_login_throttle(pool, "ann", Some("192.0.2.7"), now).await.unwrap();
            }
            let later = now + time::Duration::minutes(2);
            assert_eq!(attempts::flush_login_throttles(pool, limits.window, later).await.unwrap(), 1, "{}", $name);
            let detail: String = sqlx::query_scalar(
                "SELECT detail FROM audit_events WHERE action = 'auth.login_throttled' ORDER BY id DESC LIMIT 1",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            assert!(detail.contains("\"attempts\":3"), "{}: {detail}", $name);
            assert_eq!(attempts::flush_login_throttles(pool, limits.window, later).await.unwrap(), 0, "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, login_attempts);

    macro_rules! users {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let hash = |s: &str| PasswordHash::from_stored(s.to_owned());
            assert_eq!(users::count_users(pool).await.unwrap(), 0);
            let alice = users::insert_user(pool, "Alice", &hash("h1"), Role::Operator).await.unwrap();
            users::insert_user(pool, "bob", &hash("h"), Role::Viewer).await.unwrap();
            assert!(
                users::insert_user(pool, "ALICE", &hash("h2"), Role::Viewer).await.is_err(),
                "{}: taken in any case",
                $name
            );
            let row = users::find_user_by_name(pool, "alice").await.unwrap().expect("any case");
            assert_eq!(
                (row.id, row.role, row.disabled, row.session_epoch),
                (alice, Role::Operator, false, 0),
                "{}",
                $name
            );
            assert!(users::set_password(pool, "ALICE", &hash("h3")).await.unwrap(), "{}", $name);
            assert!(!users::set_password(pool, "nobody", &hash("h3")).await.unwrap(), "{}", $name);
            assert!(users::set_disabled(pool, "alice", true).await.unwrap(), "{}", $name);
            let row = users::find_user_by_id(pool, alice).await.unwrap().unwrap();
            assert_eq!(
                (row.password_hash.as_str(), row.disabled, row.session_epoch),
                ("h3", true, 2),
                "{}",
                $name
            );
            assert!(users::set_role(pool, "BOB", Role::Admin).await.unwrap(), "{}", $name);
            assert_eq!(users::count_active_admins(pool).await.unwrap(), 1, "{}", $name);
            users::record_login(pool, alice).await.unwrap();
            let listed = users::list_users(pool).await.unwrap();
            let names: Vec<&str> = listed.iter().map(|u| u.username.as_str()).collect();
            assert_eq!(names, ["Alice", "bob"], "{}: by name in any case", $name);
            assert!(listed[0].disabled && listed[0].last_login_at.is_some(), "{}: {:?}", $name, listed[0]);
        }};
    }
    on_both!(&sqlite, &pg, users);

    macro_rules! directory {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let granted = |role, by: &[&str]| Granted { role, by: by.iter().map(|g| g.to_string()).collect() };
            let mut conn = pool.acquire().await.unwrap();
            let first = directory_users::record_sign_in(&mut conn, UserSource::Ldap, "dora", "uid=dora", &granted(Role::Operator, &["sre"]))
                .await
                .unwrap();
            let Recorded::SignedIn { user, was: None } = first else { panic!("{}: {first:?}", $name) };
            assert_eq!((user.role, user.source, user.disabled), (Role::Operator, UserSource::Ldap, false), "{}", $name);
            // Again, promoted, the name in another case.
            let again = directory_users::record_sign_in(&mut conn, UserSource::Ldap, "Dora", "uid=dora", &granted(Role::Admin, &["sre-leads"]))
                .await
                .unwrap();
            assert!(matches!(again, Recorded::SignedIn { ref user, was: Some(Role::Operator) } if user.role == Role::Admin), "{}: {again:?}", $name);
            // A local user's name is not taken over by the directory.
            users::insert_user(&mut *conn, "lou", &PasswordHash::from_stored("x".into()), Role::Viewer).await.unwrap();
            let taken = directory_users::record_sign_in(&mut conn, UserSource::Oidc, "lou", "sub-1", &granted(Role::Admin, &["a"]))
                .await
                .unwrap();
            assert!(matches!(taken, Recorded::NameTaken(UserSource::Local)), "{}: {taken:?}", $name);
            drop(conn);
            // Due for a check (never checked long ago: not yet), withdrawn, then back by signing in.
            assert!(directory_users::due_for_refresh(pool, UserSource::Ldap, 300).await.unwrap().is_empty(), "{}", $name);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let due = directory_users::due_for_refresh(pool, UserSource::Ldap, 0).await.unwrap();
            assert_eq!(due, [("dora".to_owned(), Role::Admin)], "{}", $name);
            directory_users::confirm_role(pool, "DORA", &granted(Role::Viewer, &["eng"])).await.unwrap();
            assert_eq!(users::find_user_by_name(pool, "dora").await.unwrap().unwrap().role, Role::Viewer, "{}", $name);
            directory_users::set_refresh_token(pool, "dora", Some("rt-1")).await.unwrap();
            assert_eq!(directory_users::refresh_token(pool, "DORA").await.unwrap().as_deref(), Some("rt-1"), "{}", $name);
            assert!(directory_users::withdraw(pool, "dora").await.unwrap(), "{}", $name);
            assert!(!directory_users::withdraw(pool, "dora").await.unwrap(), "{}: withdrawn already", $name);
            assert_eq!(directory_users::refresh_token(pool, "dora").await.unwrap(), None, "{}", $name);
            let row = users::find_user_by_name(pool, "dora").await.unwrap().unwrap();
            assert!(row.disabled && row.disabled_by_directory, "{}", $name);
            let mut conn = pool.acquire().await.unwrap();
            let back = directory_users::record_sign_in(&mut conn, UserSource::Ldap, "dora", "uid=dora", &granted(Role::Viewer, &["eng"]))
                .await
                .unwrap();
            assert!(matches!(back, Recorded::SignedIn { ref user, .. } if !user.disabled), "{}: {back:?}", $name);
        }};
    }
    on_both!(&sqlite, &pg, directory);

    macro_rules! tokens {
        ($pool:expr, $name:expr) => {{
            let pool = $pool;
            let hash = PasswordHash::from_stored("x".to_owned());
            users::insert_user(pool, "ada", &hash, Role::Admin).await.unwrap();
            users::insert_user(pool, "bea", &hash, Role::Viewer).await.unwrap();
            users::set_disabled(pool, "bea", true).await.unwrap();
            // The creator's name in another case still counts (SQLite's NOCASE, lower() on both).
            let ops = api_tokens::insert_token(pool, "ops", Role::Admin, "sha-ops", "ADA").await.unwrap();
            let read = api_tokens::insert_token(pool, "read", Role::Viewer, "sha-read", "bea").await.unwrap();
            let used = api_tokens::use_token(pool, "sha-ops").await.unwrap().expect("an admin's token works");
            assert_eq!((used.id, used.role), (ops, Role::Admin), "{}", $name);
            assert!(api_tokens::use_token(pool, "sha-nope").await.unwrap().is_none(), "{}", $name);
            // bea is disabled: her token stops.
            assert!(api_tokens::use_token(pool, "sha-read").await.unwrap().is_none(), "{}", $name);
            assert!(api_tokens::revoke_token(pool, ops).await.unwrap(), "{}", $name);
            assert!(!api_tokens::revoke_token(pool, ops).await.unwrap(), "{}: revoked already", $name);
            assert!(api_tokens::use_token(pool, "sha-ops").await.unwrap().is_none(), "{}: revoked", $name);
            let listed = api_tokens::list_tokens(pool).await.unwrap();
            assert_eq!(
                listed.iter().map(|t| t.id).collect::<Vec<_>>(),
                [read, ops],
                "{}: newest first",
                $name
            );
            let ops_row = &listed[1];
            assert!(ops_row.last_used_at.is_some() && ops_row.revoked_at.is_some(), "{}: {ops_row:?}", $name);
            assert_eq!(ops_row.created_at.len(), "2026-12-06T10:00:00.000Z".len(), "{}", $name);
        }};
    }
    on_both!(&sqlite, &pg, tokens);
}
