//! The rules in force as one value: the validated rules and the hash that names them, stored
//! with every decision made under them; [`LiveRules`] holds the current set, which a reload
//! (SIGHUP) replaces whole while every reader keeps the snapshot it took.
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use super::Rule;

/// Hex digits of the SHA-256 kept as the rule set's name: 48 bits, enough to tell the few rule
/// sets one installation ever runs apart, short enough to read in a timeline.
const HASH_LEN: usize = 12;

/// Validated rules, in file order, and their hash.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    hash: String,
}

impl RuleSet {
    /// The rules, named by the SHA-256 of their configuration (as loaded: defaults filled in,
    /// `file:` notify paths made absolute), so the same rules written differently hash alike.
    pub fn new(rules: Vec<Rule>) -> RuleSet {
        let configs: Vec<_> = rules.iter().map(|r| &r.config).collect();
        let json = serde_json::to_vec(&configs).unwrap_or_default();
        let digest = Sha256::digest(&json);
        let hash = digest.iter().map(|b| format!("{b:02x}")).collect::<String>()[..HASH_LEN].to_owned();
        RuleSet { rules, hash }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn hash(&self) -> &str {
        &self.hash
    }
}

impl std::ops::Deref for RuleSet {
    type Target = [Rule];

    fn deref(&self) -> &[Rule] {
        &self.rules
    }
}

/// The rule set in force, shared by every part that decides, runs, verifies or shows rules.
#[derive(Clone, Debug)]
pub struct LiveRules(Arc<RwLock<Arc<RuleSet>>>);

impl LiveRules {
    pub fn new(set: RuleSet) -> LiveRules {
        LiveRules(Arc::new(RwLock::new(Arc::new(set))))
    }

    /// The set in force now: a snapshot that a reload does not change under the caller.
    pub fn current(&self) -> Arc<RuleSet> {
        match self.0.read() {
            Ok(set) => set.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `set` in force; returns the one it replaces.
    pub fn replace(&self, set: RuleSet) -> Arc<RuleSet> {
        let new = Arc::new(set);
        match self.0.write() {
            Ok(mut current) => std::mem::replace(&mut *current, new),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), new),
        }
    }
}

impl From<Vec<Rule>> for LiveRules {
    fn from(rules: Vec<Rule>) -> LiveRules {
        LiveRules::new(RuleSet::new(rules))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::heal::RuleConfig;

    fn rule(json: &str) -> Rule {
        let cfg: RuleConfig = serde_json::from_str(json).unwrap();
        Rule::from_config(cfg, |_| true).unwrap()
    }

    #[test]
    fn the_hash_names_the_rules_not_their_spelling_and_a_reload_keeps_snapshots() {
        let a = r#"{"name":"a","match":{"alertname":"A"},"playbook":"p.yml"}"#;
        let a_spelled_out = r#"{"name":"a","match":{"alertname":"A"},"playbook":"p.yml","cooldown":"2m","target_label":"instance"}"#;
        let a_slower = r#"{"name":"a","match":{"alertname":"A"},"playbook":"p.yml","cooldown":"5m"}"#;
        let first = RuleSet::new(vec![rule(a)]);
        assert_eq!(first.hash().len(), 12);
        assert_eq!(RuleSet::new(vec![rule(a_spelled_out)]).hash(), first.hash(), "defaults written out");
        assert_ne!(RuleSet::new(vec![rule(a_slower)]).hash(), first.hash(), "a changed cooldown");
        assert_ne!(RuleSet::new(Vec::new()).hash(), first.hash());

        let live = LiveRules::new(first);
        let before = live.current();
        let old = live.replace(RuleSet::new(vec![rule(a_slower)]));
        assert_eq!(old.hash(), before.hash());
        assert_eq!(before.len(), 1, "a snapshot taken before the reload is unchanged");
        assert_ne!(live.current().hash(), before.hash());
    }
}
