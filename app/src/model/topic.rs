//! `Topic`: what kind of data changed, as the server's event stream names it (`/api/events`)
//! and the pages listen for it. The names are the stream's wire format.

/// A kind of change a page may be showing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Alerts stored, resolved or decided (and their outcome, which follows their run).
    Alerts,
    /// A run queued, started, finished, cancelled or verified.
    Runs,
    /// A run parked for approval, approved, rejected or expired.
    Approvals,
    /// A circuit breaker opened or was reset.
    Breakers,
    /// Healing paused or resumed.
    Pauses,
    /// New lines of a running playbook's output.
    Output,
}

impl Topic {
    /// Every topic, in a fixed order (the index of each in the server's stamp).
    pub const ALL: [Topic; 6] =
        [Topic::Alerts, Topic::Runs, Topic::Approvals, Topic::Breakers, Topic::Pauses, Topic::Output];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Alerts => "alerts",
            Topic::Runs => "runs",
            Topic::Approvals => "approvals",
            Topic::Breakers => "breakers",
            Topic::Pauses => "pauses",
            Topic::Output => "output",
        }
    }

    /// The topic a wire name stands for; an unknown name (a newer server) is ignored.
    pub fn parse(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Its position in [`Topic::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Topic;

    #[test]
    fn every_topic_round_trips_and_sits_at_its_index() {
        for (i, t) in Topic::ALL.into_iter().enumerate() {
            assert_eq!(Topic::parse(t.as_str()), Some(t));
            assert_eq!(t.index(), i);
        }
        assert_eq!(Topic::parse("nonsense"), None);
    }
}
