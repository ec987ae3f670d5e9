//! `Changes`: what the open pages are told when data changes. Whoever commits a change (the
//! inbox writer's reactions, the worker, the verifier, the server functions) touches its topics;
//! each `/api/events` stream waits on a `watch` channel, so a burst of changes between two looks
//! is one message (the receiver sees only the latest stamp), never one per row. On PostgreSQL
//! the replicas tell each other (`server::cluster_news`): what another replica committed is
//! touched here too ([`Changes::touch_from_peer`]), and is not told back.
use std::sync::Arc;

use tokio::sync::watch;

use crate::model::Topic;

/// One generation counter per topic, and whether the server is stopping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Which run of the server counted: a stamp from another run says nothing about this one.
    epoch: u64,
    generations: [u64; Topic::ALL.len()],
    /// The same counts for this process's own changes alone (not those another replica told
    /// of): what this process tells the others.
    own: [u64; Topic::ALL.len()],
    /// Set once the server stops: every stream ends, so a graceful shutdown is not held open
    /// by the pages left open.
    pub closed: bool,
}

impl Stamp {
    /// The topics whose generation moved since `earlier`, in [`Topic::ALL`]'s order.
    pub fn changed_since(&self, earlier: &Stamp) -> Vec<Topic> {
        moved(&self.generations, &earlier.generations)
    }

    /// The topics this process itself changed since `earlier` (another replica's news left out).
    pub fn own_changed_since(&self, earlier: &Stamp) -> Vec<Topic> {
        moved(&self.own, &earlier.own)
    }

    /// The stamp as a server-sent event's id: `EPOCH.G0.G1...` (the browser sends the last one
    /// back as `Last-Event-ID` when it reconnects).
    pub fn id(&self) -> String {
        let mut id = format!("{:x}", self.epoch);
        for g in self.generations {
            id.push('.');
            id.push_str(&g.to_string());
        }
        id
    }

    /// The stamp an event id of this run of the server stands for (`self` is any stamp of this
    /// run); `None` for an id of another run, or anything else.
    pub fn of_id(&self, id: &str) -> Option<Stamp> {
        let mut parts = id.trim().split('.');
        let epoch = u64::from_str_radix(parts.next()?, 16).ok().filter(|e| *e == self.epoch)?;
        let mut generations = [0u64; Topic::ALL.len()];
        for g in &mut generations {
            *g = parts.next()?.parse().ok()?;
        }
        parts.next().is_none().then_some(Stamp {
            epoch,
            generations,
            own: [0; Topic::ALL.len()],
            closed: false,
        })
    }
}

/// The topics whose count differs between `now` and `then`, in [`Topic::ALL`]'s order.
fn moved(now: &[u64; Topic::ALL.len()], then: &[u64; Topic::ALL.len()]) -> Vec<Topic> {
    Topic::ALL.iter().zip(now.iter().zip(then.iter())).filter(|(_, (n, t))| n != t).map(|(t, _)| *t).collect()
}

/// The hub; cheap to clone, shared by everything that changes data and every event stream.
#[derive(Clone, Debug)]
pub struct Changes {
    tx: Arc<watch::Sender<Stamp>>,
}

impl Default for Changes {
    /// A hub whose stamps name this run of the server (the time it started, in nanoseconds).
    fn default() -> Self {
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Changes { tx: Arc::new(watch::Sender::new(Stamp { epoch, ..Stamp::default() })) }
    }
}

impl Changes {
    /// Records that `topics` changed (after the commit that changed them).
    pub fn touch(&self, topics: &[Topic]) {
        self.bump(topics, true);
    }

    /// Records that another replica changed `topics` (it said so after its commit): open pages
    /// and the worker here hear of it; the replicas are not told again.
    pub fn touch_from_peer(&self, topics: &[Topic]) {
        self.bump(topics, false);
    }

    fn bump(&self, topics: &[Topic], own: bool) {
        if topics.is_empty() {
            return;
        }
        self.tx.send_modify(|stamp| {
            for topic in topics {
                let g = &mut stamp.generations[topic.index()];
                *g = g.wrapping_add(1);
                if own {
                    let o = &mut stamp.own[topic.index()];
                    *o = o.wrapping_add(1);
                }
            }
        });
    }

    /// Ends every event stream (the server is stopping); later ones end at once.
    pub fn close(&self) {
        self.tx.send_modify(|stamp| stamp.closed = true);
    }

    /// A receiver for one event stream; its first `changed()` waits for the next touch.
    pub fn subscribe(&self) -> watch::Receiver<Stamp> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_touches_is_one_change_naming_each_topic_once() {
        let changes = Changes::default();
        let mut rx = changes.subscribe();
        let seen = *rx.borrow_and_update();
        for _ in 0..1000 {
            changes.touch(&[Topic::Alerts]);
        }
        changes.touch(&[Topic::Runs, Topic::Alerts]);
        rx.changed().await.unwrap();
        let now = *rx.borrow_and_update();
        assert_eq!(now.changed_since(&seen), vec![Topic::Alerts, Topic::Runs]);
        assert!(!rx.has_changed().unwrap(), "one wake-up for the whole burst");
    }

    #[tokio::test]
    async fn a_peers_news_wakes_the_pages_but_is_not_this_replicas_own() {
        let changes = Changes::default();
        let mut rx = changes.subscribe();
        let seen = *rx.borrow_and_update();
        changes.touch_from_peer(&[Topic::Runs]);
        rx.changed().await.unwrap();
        let now = *rx.borrow_and_update();
        assert_eq!(now.changed_since(&seen), vec![Topic::Runs]);
        assert!(now.own_changed_since(&seen).is_empty(), "not told back to the replicas");
        changes.touch(&[Topic::Alerts]);
        let later = *rx.borrow_and_update();
        assert_eq!(later.own_changed_since(&now), vec![Topic::Alerts]);
    }

    #[tokio::test]
    async fn nothing_touched_is_no_change_and_close_wakes_every_stream() {
        let changes = Changes::default();
        let mut rx = changes.subscribe();
        changes.touch(&[]);
        assert!(!rx.has_changed().unwrap());
        changes.close();
        rx.changed().await.unwrap();
        let stamp = *rx.borrow_and_update();
        assert!(stamp.closed);
        assert!(stamp.changed_since(&Stamp::default()).is_empty());
    }
}
