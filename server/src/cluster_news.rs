//! The replicas tell each other what they changed (issue 28, item 2), through PostgreSQL's
//! `LISTEN`/`NOTIFY`: a run queued at one replica wakes every replica's worker (an idle one
//! claims it at once, not at its next fallback poll), and a page open at one replica hears of
//! alerts stored and runs ended at another.
//!
//! What travels is what `Changes` already carries: topic names, after the commit. Each replica
//! tells its own changes ([`Changes::touch`]), at most one message per [`GATHER`], and touches
//! what the others tell as theirs' ([`Changes::touch_from_peer`]), which it does not tell again.
//! A notification is a hint, never the data: a lost one (the replica died between its commit and
//! the message, or a listener lost its connection) costs the worker's fallback poll, and a
//! listener that lost its connection wakes everything here once it is back.
use std::time::Duration;

use app::model::Topic;
use app::ssr::changes::Changes;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The channel every replica listens on.
pub const CHANNEL: &str = "selfheal_changes";

/// A burst of changes within this long is one message: a storm of commits is tens of
/// messages a second, and a run queued at one replica is claimed at another well within a
/// second.
pub const GATHER: Duration = Duration::from_millis(20);

/// A listener that cannot reach PostgreSQL tries again after this long.
const RETRY: Duration = Duration::from_secs(1);

/// The message: the sender's replica id, then the topics, space-separated.
fn message(me: &str, topics: &[Topic]) -> String {
    let mut m = me.to_owned();
    for t in topics {
        m.push(' ');
        m.push_str(t.as_str());
    }
    m
}

/// The topics of another replica's message; nothing for this replica's own (PostgreSQL
/// delivers it to every listener, the sender's too) or a message that is not one.
fn topics_of(me: &str, payload: &str) -> Vec<Topic> {
    let mut words = payload.split(' ');
    match words.next() {
        Some(from) if from != me && !from.is_empty() => words.filter_map(Topic::parse).collect(),
        _ => Vec::new(),
    }
}

/// Tells the other replicas what this one changes, and touches here what they tell, until
/// `stop`. `me` is this replica's id.
pub async fn run(pool: PgPool, changes: Changes, me: String, stop: CancellationToken) {
    tokio::join!(
        tell(pool.clone(), changes.clone(), me.clone(), stop.clone()),
        hear(pool, changes, me, stop)
    );
}

/// This replica's own changes, one `NOTIFY` per burst.
async fn tell(pool: PgPool, changes: Changes, me: String, stop: CancellationToken) {
    let mut news = changes.subscribe();
    let mut told = *news.borrow_and_update();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = news.changed() => if changed.is_err() { return },
        }
        tokio::time::sleep(GATHER).await;
        let now = *news.borrow_and_update();
        let topics = now.own_changed_since(&told);
        told = now;
        if topics.is_empty() {
            continue;
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(message(&me, &topics))
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            // The others hear of it at their fallback poll, or with the next message.
            tracing::warn!(error = %e, "cannot tell the other replicas of a change");
        }
    }
}

/// The other replicas' changes, touched here.
async fn hear(pool: PgPool, changes: Changes, me: String, stop: CancellationToken) {
    let mut first = true;
    loop {
        let listening = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = match listening.await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for the other replicas' changes; trying again");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(RETRY) => continue,
                }
            }
        };
        if !first {
            // Listening again: whatever was told meanwhile is lost, so everything here looks again.
            changes.touch_from_peer(&Topic::ALL);
        }
        first = false;
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                next = listener.try_recv() => next,
            };
            match next {
                Ok(Some(n)) => changes.touch_from_peer(&topics_of(&me, n.payload())),
                // The connection was lost and is back, listening (sqlx reconnects before it
                // says so): the same as listening again.
                Ok(None) => {
                    tracing::warn!("lost the connection that hears the other replicas; listening again");
                    changes.touch_from_peer(&Topic::ALL);
                }
                // PostgreSQL ended the session (a restart, a terminated backend): listen anew.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot hear the other replicas; listening anew");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_its_sender_and_only_others_messages_count() {
        let m = message("web-1:42:abc", &[Topic::Runs, Topic::Alerts]);
        assert_eq!(m, "web-1:42:abc runs alerts");
        assert_eq!(topics_of("web-2:7:def", &m), vec![Topic::Runs, Topic::Alerts]);
        assert!(topics_of("web-1:42:abc", &m).is_empty(), "its own message is not news");
        assert_eq!(topics_of("me", "other runs newer-topic"), vec![Topic::Runs], "unknown topics ignored");
        assert!(topics_of("me", "").is_empty());
    }
}
