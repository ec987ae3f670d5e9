//! A run's output on its way to the database: batched, capped with a visible marker, and the
//! PLAY RECAP kept for parsing even past the cap.
use std::time::Duration;

use app::ssr::db::backend::{on_pool, Db};
use tokio::sync::mpsc;

use app::model::Topic;
use app::ssr::alert::now_utc;
use app::ssr::changes::Changes;
use app::ssr::db::run_output::{self, OutputLine};

use crate::ansible::{self, Stream};

/// Output is flushed to the database at least this often while a run is going.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// ...or when this many lines are waiting.
pub(super) const FLUSH_LINES: usize = 500;

/// Secret values replaced by `[redacted]` before a line is stored. Its `Debug` shows how many,
/// never what.
#[derive(Clone, Default)]
pub struct Redactor(std::sync::Arc<[String]>);

impl Redactor {
    /// `values` longest first (see `Config::secret_values`).
    pub fn new(values: Vec<String>) -> Redactor {
        Redactor(values.into())
    }

    pub fn apply(&self, line: String) -> String {
        if !self.0.iter().any(|v| line.contains(v.as_str())) {
            return line;
        }
        self.0.iter().fold(line, |l, v| l.replace(v.as_str(), "[redacted]"))
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.0.len())
    }
}

/// What the output store saw.
#[derive(Debug, Default)]
pub(super) struct StoredOutput {
    pub lines: u64,
    pub truncated: bool,
    pub recap: ansible::Recap,
}

/// Drains a run's output into `run_output` in batches; keeps the PLAY RECAP lines for parsing.
pub(super) async fn store_output(
    pool: Db,
    run_id: i64,
    mut rx: mpsc::Receiver<(Stream, String)>,
    cap: u32,
    redactor: Redactor,
    changes: Changes,
) -> StoredOutput {
    let mut out = StoredOutput::default();
    let mut pending: Vec<OutputLine> = Vec::new();
    let mut recap_lines: Vec<String> = Vec::new();
    let mut dropped = 0u64;
    let mut seq = 0i64;
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        let next = tokio::select! {
            line = rx.recv() => line,
            _ = tick.tick() => {
                flush(&pool, run_id, &mut pending, &changes).await;
                continue;
            }
        };
        let Some((stream, line)) = next else { break };
        let line = redactor.apply(line);
        if line.starts_with("PLAY RECAP") || !recap_lines.is_empty() {
            recap_lines.push(line.clone());
        }
        if out.lines >= u64::from(cap) {
            dropped += 1;
            continue;
        }
        seq += 1;
        out.lines += 1;
        pending.push(OutputLine { seq, stream: stream.as_str(), at: now_utc(), line });
        if pending.len() >= FLUSH_LINES {
            flush(&pool, run_id, &mut pending, &changes).await;
        }
    }
    if dropped > 0 {
        out.truncated = true;
        seq += 1;
        pending.push(OutputLine {
            seq,
            stream: "system",
            at: now_utc(),
            line: format!("[selfheal] output truncated: {dropped} more lines were not kept (cap {cap})"),
        });
    }
    flush(&pool, run_id, &mut pending, &changes).await;
    out.recap = ansible::parse_recap(recap_lines.iter().map(String::as_str));
    out
}

async fn flush(pool: &Db, run_id: i64, pending: &mut Vec<OutputLine>, changes: &Changes) {
    if pending.is_empty() {
        return;
    }
    let result = on_pool!(pool, |p| async {
        let mut conn = p.acquire().await?;
        run_output::append_output(&mut conn, run_id, pending).await
    }
    .await);
    match result {
        Ok(()) => changes.touch(&[Topic::Output]),
        Err(e) => tracing::error!(error = %e, "cannot store run output"),
    }
    pending.clear();
}
