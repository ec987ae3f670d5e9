//! The kill switch, pure: which rules a pause covers. A pause holds everywhere (scope
//! [`EVERYTHING`]) or for one rule (scope = its name); while it holds, new episodes it covers
//! are decided `paused` and nothing it covers runs.
use std::collections::BTreeSet;

use super::Rule;

/// The scope of a pause of all healing.
pub const EVERYTHING: &str = "*";

/// The pauses in force, by scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paused {
    scopes: BTreeSet<String>,
}

impl Paused {
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Paused {
        Paused { scopes: scopes.into_iter().map(Into::into).collect() }
    }

    /// Whether runs of `rule` are paused, and by which scope.
    pub fn covering(&self, rule: &Rule) -> Option<&str> {
        [EVERYTHING, rule.name()]
            .into_iter()
            .find(|s| self.scopes.contains(*s))
            .and_then(|s| self.scopes.get(s))
            .map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }
}
