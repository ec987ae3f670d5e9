//! How a playbook's output reads: each line's kind (for its colour) and its tasks (for the task
//! list with durations and the failed task at the top of a failed run).
use serde::{Deserialize, Serialize};

/// What kind of line of `ansible-playbook`'s default output `line` is; the CSS class suffix
/// (`line-<kind>`), empty for plain lines.
pub fn line_kind(line: &str) -> &'static str {
    let l = line.trim_start();
    if l.starts_with("TASK [") || l.starts_with("RUNNING HANDLER [") {
        "task"
    } else if l.starts_with("PLAY [") || l.starts_with("PLAY RECAP") {
        "play"
    } else if l.starts_with("fatal:") || l.starts_with("failed:") || l.starts_with("ERROR!") {
        "failed"
    } else if l.starts_with("changed:") {
        "changed"
    } else if l.starts_with("ok:") {
        "ok"
    } else if l.starts_with("skipping:") {
        "skipped"
    } else if l.starts_with("...ignoring") {
        "ignored"
    } else {
        ""
    }
}

/// The name in a `TASK [name] ****` or `RUNNING HANDLER [name] ****` line.
pub fn task_name(line: &str) -> Option<&str> {
    let l = line.trim_start();
    let rest = l.strip_prefix("TASK [").or_else(|| l.strip_prefix("RUNNING HANDLER ["))?;
    rest.rfind(']').map(|end| &rest[..end])
}

/// One task of a run, as its output tells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// The line of its `TASK [...]` header.
    pub seq: i64,
    pub name: String,
    /// `failed`, `changed`, `ok`, `skipped`, or `running` (no result yet).
    pub status: String,
    /// From its header to the next task's (or to the run's end; so far, while it runs).
    pub duration_ms: Option<i64>,
    /// Its first failure line (`fatal: [host]: FAILED! => ...`), for a failed task.
    pub failure: Option<String>,
    pub failure_seq: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_ansible_prints_them() {
        let cases = [
            ("TASK [nginx_health : restart nginx] ********", "task"),
            ("RUNNING HANDLER [reload] ****", "task"),
            ("PLAY [all] *****", "play"),
            ("PLAY RECAP *****", "play"),
            ("fatal: [web1]: FAILED! => {\"msg\": \"boom\"}", "failed"),
            ("failed: [web1] (item=x) => {}", "failed"),
            ("ERROR! the playbook could not be found", "failed"),
            ("changed: [web1]", "changed"),
            ("ok: [web1] => {", "ok"),
            ("skipping: [web1]", "skipped"),
            ("...ignoring", "ignored"),
            ("    \"msg\": \"nginx is back\"", ""),
            ("web1 : ok=3 changed=1 unreachable=0 failed=0", ""),
        ];
        for (line, kind) in cases {
            assert_eq!(line_kind(line), kind, "{line}");
        }
    }

    #[test]
    fn task_names_come_from_their_headers() {
        assert_eq!(
            task_name("TASK [nginx_health : restart nginx] ****"),
            Some("nginx_health : restart nginx")
        );
        assert_eq!(task_name("RUNNING HANDLER [reload] *"), Some("reload"));
        assert_eq!(task_name("TASK [a [b] c] ***"), Some("a [b] c"));
        assert_eq!(task_name("ok: [web1]"), None);
    }
}
