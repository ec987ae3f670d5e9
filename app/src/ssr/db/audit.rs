//! The append-only `audit_events` table. Both backends.
use super::backend::{on_backend, on_conn, Conn, Ex};

/// The action of the audit entry for an alert whose labels a rule refused to hand to a
/// playbook (written by the engine and by the inbox writer).
pub const LABELS_REJECTED: &str = "engine.labels_rejected";

/// The audit entries for the alerts one commit refused (alert id and the refusal's detail, in
/// order): one entry per distinct refusal, naming every alert it covers (`alert 7`, or
/// `alerts 7-9, 12`), in the order each refusal first appears. A refusal is a security event,
/// and a different offending value is a different detail, so each still gets its own entry; a
/// storm of alerts refused for the same reason (a missing target label, say) no longer writes
/// and seals an entry per alert, which was about a quarter of such a storm's CPU and buried
/// the other entries of the log.
pub fn refusal_entries<'a>(refused: impl IntoIterator<Item = (i64, &'a str)>) -> Vec<(String, &'a str)> {
    let mut groups: Vec<(&str, Vec<i64>)> = Vec::new();
    let mut by_detail: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (id, detail) in refused {
        let at = *by_detail.entry(detail).or_insert_with(|| {
            groups.push((detail, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(id);
    }
    groups.into_iter().map(|(detail, ids)| (alerts_target(ids), detail)).collect()
}

/// `alert 7` for one id; `alerts 7-9, 12` for several, ascending, runs written as ranges.
fn alerts_target(mut ids: Vec<i64>) -> String {
    ids.sort_unstable();
    ids.dedup();
    if let [one] = ids.as_slice() {
        return format!("alert {one}");
    }
    let mut runs: Vec<String> = Vec::new();
    let mut rest = ids.as_slice();
    while let Some((&first, _)) = rest.split_first() {
        let len = rest.iter().enumerate().take_while(|(i, id)| **id == first + *i as i64).count();
        let last = rest[len - 1];
        runs.push(if len == 1 { first.to_string() } else { format!("{first}-{last}") });
        rest = &rest[len..];
    }
    format!("alerts {}", runs.join(", "))
}

/// An audit entry about to be written.
#[derive(Clone, Debug, Default)]
pub struct NewAuditEvent<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub source: Option<&'a str>,
}

/// Appends one entry to the audit log.
pub async fn record_audit<'c>(ex: impl Into<Ex<'c>>, event: &NewAuditEvent<'_>) -> Result<(), sqlx::Error> {
    on_backend!(ex, |e| sqlx::query(
        "INSERT INTO audit_events (actor, action, target, detail, source) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(event.actor)
    .bind(event.action)
    .bind(event.target)
    .bind(event.detail)
    .bind(event.source)
    .execute(e)
    .await
    .map(|_| ()))
}

/// Rows per multi-row statement: 5 parameters each, far below SQLite's 32,766 and PostgreSQL's
/// 65,535.
const AUDIT_ROWS_PER_STATEMENT: usize = 256;

/// Appends entries to the audit log in order, one statement per chunk rather than one per
/// entry: the engine writes one per distinct refusal in a batch, and under a storm each statement
/// is a round trip made while it holds the write lock the inbox waits for.
pub async fn record_audits<'c>(
    conn: impl Into<Conn<'c>>,
    events: &[NewAuditEvent<'_>],
) -> Result<(), sqlx::Error> {
    on_conn!(conn, |e| {
        for chunk in events.chunks(AUDIT_ROWS_PER_STATEMENT) {
            let mut insert =
                sqlx::QueryBuilder::new("INSERT INTO audit_events (actor, action, target, detail, source) ");
            insert.push_values(chunk, |mut b, e| {
                b.push_bind(e.actor)
                    .push_bind(e.action)
                    .push_bind(e.target)
                    .push_bind(e.detail)
                    .push_bind(e.source);
            });
            insert.build().execute(&mut *e).await?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::lists::{list_audit, Window};
    use crate::ssr::db::test_pool;
    use crate::ssr::filter::AuditQuery;

    #[test]
    fn refusals_share_an_entry_per_detail_naming_every_alert() {
        let refused =
            [(7, "no host"), (8, "no host"), (3, "bad value \"x\""), (9, "no host"), (12, "no host")];
        assert_eq!(
            refusal_entries(refused),
            [("alerts 7-9, 12".to_owned(), "no host"), ("alert 3".to_owned(), "bad value \"x\"")]
        );
        assert_eq!(refusal_entries([(5, "a"), (4, "a")]), [("alerts 4-5".to_owned(), "a")]);
        assert_eq!(refusal_entries([(1, "a"), (3, "a"), (5, "a")]), [("alerts 1, 3, 5".to_owned(), "a")]);
        assert!(refusal_entries([]).is_empty());
    }

    #[tokio::test]
    async fn audit_appends_lists_newest_first_and_refuses_updates() {
        let pool = test_pool().await;
        for action in ["auth.login", "user.add", "auth.logout"] {
            let e = NewAuditEvent { actor: "alice", action, source: Some("127.0.0.1"), ..Default::default() };
            record_audit(&pool, &e).await.unwrap();
        }
        let all = list_audit(&pool, &AuditQuery::default(), Window::chunk(i64::MAX, 10)).await.unwrap();
        let actions: Vec<_> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["auth.logout", "user.add", "auth.login"]);
        let page = list_audit(&pool, &AuditQuery::default(), Window::chunk(all[0].id, 1)).await.unwrap();
        assert_eq!(page[0].action, "user.add");

        let edit = sqlx::query("UPDATE audit_events SET actor = 'mallory'").execute(&pool).await;
        assert!(edit.is_err(), "the append-only trigger must refuse updates");
    }
}
