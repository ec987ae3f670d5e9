//! A run's tasks from its output: each `TASK [...]` header and the host results after it, with
//! its duration from the lines' times.
use crate::model::{line_kind, task_name, TaskView};
use crate::ssr::utc::Utc;

/// One output line the task list reads: (seq, stored time, text).
pub type TaskLine = (i64, String, String);

/// The tasks in `lines` (headers and results, in order). A task lasts until the next header,
/// or the PLAY RECAP, or `end` (the run's end, or now while it runs).
pub fn fold_tasks(lines: &[TaskLine], end: Utc) -> Vec<TaskView> {
    let mut tasks: Vec<(TaskView, Option<Utc>)> = Vec::new();
    let close = |tasks: &mut Vec<(TaskView, Option<Utc>)>, at: Option<Utc>| {
        if let Some((task, Some(start))) = tasks.last_mut().filter(|(t, _)| t.duration_ms.is_none()) {
            if let Some(at) = at {
                task.duration_ms = Some(ms_between(*start, at));
            }
        }
    };
    for (seq, at, line) in lines {
        let at = Utc::parse(at).ok();
        if let Some(name) = task_name(line) {
            close(&mut tasks, at);
            let task = TaskView {
                seq: *seq,
                name: name.to_owned(),
                status: "running".to_owned(),
                duration_ms: None,
                failure: None,
                failure_seq: None,
            };
            tasks.push((task, at));
            continue;
        }
        if line.trim_start().starts_with("PLAY RECAP") {
            close(&mut tasks, at);
            continue;
        }
        let Some((task, _)) = tasks.last_mut() else { continue };
        let kind = line_kind(line);
        if kind == "failed" && task.failure.is_none() {
            task.failure = Some(line.clone());
            task.failure_seq = Some(*seq);
        }
        task.status = worse(&task.status, kind).to_owned();
    }
    close(&mut tasks, Some(end));
    tasks.into_iter().map(|(t, _)| t).collect()
}

/// The task's status after a result line of `kind`: failed > changed > ok > skipped.
fn worse<'a>(now: &'a str, kind: &'a str) -> &'a str {
    let rank = |s: &str| match s {
        "failed" => 4,
        "changed" => 3,
        "ok" => 2,
        "skipped" => 1,
        _ => 0,
    };
    if rank(kind) > rank(now) {
        kind
    } else {
        now
    }
}

fn ms_between(from: Utc, to: Utc) -> i64 {
    i64::try_from((to.time() - from.time()).whole_milliseconds()).unwrap_or(i64::MAX).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: i64, secs: u32, text: &str) -> TaskLine {
        (seq, format!("2026-12-06T10:00:{secs:02}.000Z"), text.to_owned())
    }

    #[test]
    fn each_task_lasts_until_the_next_and_takes_its_worst_result() {
        let lines = [
            line(2, 0, "TASK [check] ****"),
            line(3, 1, "ok: [web1]"),
            line(5, 2, "TASK [restart] ****"),
            line(6, 5, "changed: [web1]"),
            line(7, 5, "fatal: [web2]: FAILED! => {\"msg\": \"boom\"}"),
            line(9, 6, "TASK [skip me] ****"),
            line(10, 6, "skipping: [web1]"),
            line(12, 9, "PLAY RECAP ****"),
        ];
        let tasks = fold_tasks(&lines, Utc::parse("2026-12-06T10:00:30.000Z").unwrap());
        let got: Vec<(&str, &str, Option<i64>)> =
            tasks.iter().map(|t| (t.name.as_str(), t.status.as_str(), t.duration_ms)).collect();
        assert_eq!(
            got,
            [
                ("check", "ok", Some(2000)),
                ("restart", "failed", Some(4000)),
                ("skip me", "skipped", Some(3000))
            ]
        );
        assert_eq!(tasks[1].failure_seq, Some(7));
        assert!(tasks[1].failure.as_deref().unwrap().contains("boom"));
    }

    #[test]
    fn the_last_task_of_a_running_playbook_lasts_until_now() {
        let lines = [line(1, 0, "TASK [slow] ****")];
        let tasks = fold_tasks(&lines, Utc::parse("2026-12-06T10:00:07.500Z").unwrap());
        assert_eq!((tasks[0].status.as_str(), tasks[0].duration_ms), ("running", Some(7500)));
        assert!(fold_tasks(&[line(1, 0, "ok: [web1]")], Utc::now()).is_empty(), "no header, no task");
    }
}
