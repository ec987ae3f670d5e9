//! A run's stored PLAY RECAP (JSON: host to counts, written by the worker) for the run page.
use std::collections::BTreeMap;

use crate::model::HostRecap;

/// The stored recap as one row per host, in host order; counts ansible-playbook did not print
/// are 0. Text that is not a recap gives no rows (it is shown elsewhere, in the raw output).
pub fn parse_recap(stored: &str) -> Vec<HostRecap> {
    let Ok(hosts) = serde_json::from_str::<BTreeMap<String, BTreeMap<String, u64>>>(stored) else {
        return Vec::new();
    };
    hosts
        .into_iter()
        .map(|(host, counts)| {
            let n = |k: &str| counts.get(k).copied().unwrap_or(0);
            HostRecap {
                ok: n("ok"),
                changed: n("changed"),
                unreachable: n("unreachable"),
                failed: n("failed"),
                skipped: n("skipped"),
                rescued: n("rescued"),
                ignored: n("ignored"),
                host,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_in_order_with_missing_counts_as_zero() {
        let rows = parse_recap(r#"{"web2":{"ok":1,"failed":1},"web1":{"ok":3,"changed":1,"unreachable":0}}"#);
        assert_eq!(rows.iter().map(|r| r.host.as_str()).collect::<Vec<_>>(), ["web1", "web2"]);
        assert_eq!((rows[0].ok, rows[0].changed, rows[0].failed), (3, 1, 0));
        assert_eq!((rows[1].ok, rows[1].failed, rows[1].skipped), (1, 1, 0));
    }

    #[test]
    fn text_that_is_not_a_recap_gives_no_rows() {
        for bad in ["", "null", "[]", "{\"web1\": 3}", "not json"] {
            assert!(parse_recap(bad).is_empty(), "{bad}");
        }
    }
}
