//! The hosts of the inventory, as `ansible-inventory --list` reports them: what a `--limit` may
//! name. A limit is one host the inventory has as a host, never a group, `all` or a pattern:
//! `--limit web` would run the playbook on every host of group `web`.
use std::collections::BTreeSet;

/// The inventory's hosts and groups, or why they could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHosts {
    hosts: BTreeSet<String>,
    groups: BTreeSet<String>,
    unreadable: Option<String>,
}

impl KnownHosts {
    /// Exactly these hosts, in no group (for tests and callers that know them).
    pub fn of<'a>(hosts: impl IntoIterator<Item = &'a str>) -> KnownHosts {
        KnownHosts { hosts: hosts.into_iter().map(str::to_owned).collect(), ..KnownHosts::default() }
    }

    /// No host at all, because the inventory could not be read: every limit is refused, saying
    /// why.
    pub fn unreadable(why: impl Into<String>) -> KnownHosts {
        KnownHosts { unreadable: Some(why.into()), ..KnownHosts::default() }
    }

    /// Parses `ansible-inventory --list` output: every group's `hosts`, `_meta.hostvars`'s keys,
    /// and the group names (including `all` and `ungrouped`).
    pub fn from_inventory_list(json: &str) -> Result<KnownHosts, String> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("ansible-inventory --list is not JSON: {e}"))?;
        let object = value.as_object().ok_or("ansible-inventory --list is not a JSON object")?;
        let mut known = KnownHosts::default();
        for (name, group) in object {
            if name == "_meta" {
                if let Some(vars) = group.get("hostvars").and_then(|v| v.as_object()) {
                    known.hosts.extend(vars.keys().cloned());
                }
                continue;
            }
            known.groups.insert(name.clone());
            if let Some(hosts) = group.get("hosts").and_then(|h| h.as_array()) {
                known.hosts.extend(hosts.iter().filter_map(|h| h.as_str()).map(str::to_owned));
            }
        }
        known.groups.insert("all".to_owned());
        Ok(known)
    }

    /// Why the inventory could not be read, if it could not.
    /// The inventory's hosts, sorted.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().map(String::as_str)
    }

    pub fn unreadable_reason(&self) -> Option<&str> {
        self.unreadable.as_deref()
    }

    /// Whether `host` may be a `--limit`: a host of the inventory and not also a group name.
    pub fn check(&self, host: &str) -> Result<(), String> {
        if let Some(why) = &self.unreadable {
            return Err(format!("the inventory's hosts are unknown ({why}): no --limit is allowed"));
        }
        if self.groups.contains(host) {
            return Err(format!("`{host}` is a group of the inventory, not one host"));
        }
        if !self.hosts.contains(host) {
            return Err(format!("`{host}` is not a host of the inventory"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"{
        "_meta": {"hostvars": {"web1": {"nginx_method": "process"}, "db1": {}}},
        "all": {"children": ["ungrouped", "web", "db"]},
        "web": {"hosts": ["web1", "web2"]},
        "db": {"hosts": ["db1"]},
        "ungrouped": {"hosts": ["lonely"]}
    }"#;

    #[test]
    fn a_limit_is_one_host_of_the_inventory_never_a_group_or_all() {
        let known = KnownHosts::from_inventory_list(LIST).unwrap();
        for host in ["web1", "web2", "db1", "lonely"] {
            assert_eq!(known.check(host), Ok(()), "{host}");
        }
        for (name, why) in [
            ("all", "group"),
            ("web", "group"),
            ("ungrouped", "group"),
            ("db2", "not a host"),
            ("web*", "not a host"),
            ("", "not a host"),
        ] {
            let refused = known.check(name).unwrap_err();
            assert!(refused.contains(why), "{name}: {refused}");
        }
        let unreadable = KnownHosts::unreadable("exit 1").check("web1").unwrap_err();
        assert!(unreadable.contains("exit 1"), "{unreadable}");
        assert!(KnownHosts::from_inventory_list("[]").is_err());
        assert!(KnownHosts::from_inventory_list("nope").is_err());
    }
}
