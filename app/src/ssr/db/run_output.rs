//! `run_output`: playbook output lines, appended in batches and read back for live tailing.
use sqlx::{SqliteConnection, SqliteExecutor};

use crate::model::OutputLineView;

/// One line of run output.
#[derive(Clone, Debug)]
pub struct OutputLine {
    pub seq: i64,
    pub stream: &'static str,
    pub at: String,
    pub line: String,
}

/// Appends output lines in one statement per chunk.
pub async fn append_output(
    conn: &mut SqliteConnection,
    run_id: i64,
    lines: &[OutputLine],
) -> Result<(), sqlx::Error> {
    for chunk in lines.chunks(OUTPUT_ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::new("INSERT INTO run_output (run_id, seq, stream, at, line) ");
        q.push_values(chunk, |mut row, l| {
            row.push_bind(run_id).push_bind(l.seq).push_bind(l.stream).push_bind(&l.at).push_bind(&l.line);
        });
        q.build().execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE heal_runs SET output_lines = (SELECT count(*) FROM run_output WHERE run_id = ?1) WHERE id = ?1")
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Output rows per INSERT (5 values each).
const OUTPUT_ROWS_PER_STATEMENT: usize = 200;

/// Output lines of a run, in order, after `after_seq` (for live tailing), at most `limit`.
pub async fn run_output(
    ex: impl SqliteExecutor<'_>,
    run_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<OutputLineView>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, stream, line FROM run_output WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(run_id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(ex)
    .await
}
