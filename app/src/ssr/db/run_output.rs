//! `run_output`: playbook output lines, appended in batches and read back for live tailing.
use super::backend::{dialect, on_backend, on_conn, Conn, Ex};

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
pub async fn append_output<'c>(
    conn: impl Into<Conn<'c>>,
    run_id: i64,
    lines: &[OutputLine],
) -> Result<(), sqlx::Error> {
    on_conn!(conn, |conn| {
        for chunk in lines.chunks(OUTPUT_ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO run_output (run_id, seq, stream, at, line) ");
            q.push_values(chunk, |mut row, l| {
                row.push_bind(run_id)
                    .push_bind(l.seq)
                    .push_bind(l.stream)
                    .push_bind(&l.at)
                    .push_bind(&l.line);
            });
            q.build().execute(&mut *conn).await?;
        }
        sqlx::query(
            "UPDATE heal_runs SET output_lines = (SELECT count(*) FROM run_output WHERE run_id = $1) WHERE id = $1",
        )
        .bind(run_id)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })
}

/// Output rows per INSERT (5 values each).
const OUTPUT_ROWS_PER_STATEMENT: usize = 200;

/// Output lines of a run, in order, after `after_seq` (for live tailing), at most `limit`.
pub async fn run_output<'c>(
    ex: impl Into<Ex<'c>>,
    run_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<OutputLineView>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_as(
        "SELECT seq, stream, line FROM run_output WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(run_id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(e)
    .await)
}

/// Output lines of a run that contain `needle` (ASCII case-insensitive), in order, at most
/// `limit`. A scan of the run's own rows (the primary key's `run_id` prefix), no other.
pub async fn search_output<'c>(
    ex: impl Into<Ex<'c>>,
    run_id: i64,
    needle: &str,
    limit: i64,
) -> Result<Vec<OutputLineView>, sqlx::Error> {
    let sql = "SELECT seq, stream, line FROM run_output \
               WHERE run_id = $1 AND instr(lower(line), lower($2)) > 0 ORDER BY seq LIMIT $3";
    on_backend!(ex, |e, pg| sqlx::query_as(&dialect(sql, pg))
        .bind(run_id)
        .bind(needle)
        .bind(limit)
        .fetch_all(e)
        .await)
}

/// The lines a run's task list reads (task headers, host results, the recap), in order:
/// (seq, time, text). A scan of the run's own rows.
pub async fn task_lines<'c>(
    ex: impl Into<Ex<'c>>,
    run_id: i64,
) -> Result<Vec<crate::ssr::tasks::TaskLine>, sqlx::Error> {
    let sql = "SELECT seq, at, line FROM run_output WHERE run_id = $1 AND stream = 'stdout' AND ( \
           line LIKE 'TASK [%' OR line LIKE 'RUNNING HANDLER [%' OR line LIKE 'PLAY RECAP%' \
           OR line LIKE 'ok:%' OR line LIKE 'changed:%' OR line LIKE 'fatal:%' \
           OR line LIKE 'failed:%' OR line LIKE 'skipping:%') ORDER BY seq";
    on_backend!(ex, |e, pg| sqlx::query_as(&dialect(sql, pg)).bind(run_id).fetch_all(e).await)
}

/// A run's PLAY RECAP as stored (JSON: host to counts), if it has one.
pub async fn run_recap<'c>(ex: impl Into<Ex<'c>>, run_id: i64) -> Result<Option<String>, sqlx::Error> {
    on_backend!(ex, |e| sqlx::query_scalar("SELECT recap FROM heal_runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(e)
        .await
        .map(Option::flatten))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::seed::{seed, SeedSize};
    use crate::ssr::db::test_pool;

    #[tokio::test]
    async fn search_finds_lines_of_one_run_in_order_ignoring_case() {
        let pool = test_pool().await;
        let (_, run) = seed(
            &crate::ssr::db::backend::Db::Sqlite(pool.clone()),
            SeedSize { alerts: 2, runs: 2, lines_per_run: 30 },
        )
        .await
        .unwrap();
        let seqs = |lines: Vec<OutputLineView>| lines.into_iter().map(|l| l.seq).collect::<Vec<_>>();
        // Every tenth line (1, 11, 21) is a TASK header; the others end in "line <n>".
        assert_eq!(seqs(search_output(&pool, run, "task [", 100).await.unwrap()), vec![1, 11, 21]);
        assert_eq!(
            seqs(search_output(&pool, run, "LINE 2", 100).await.unwrap()),
            vec![2, 20, 22, 23, 24, 25, 26, 27, 28, 29]
        );
        assert_eq!(seqs(search_output(&pool, run, "line 2", 3).await.unwrap()), vec![2, 20, 22]);
        assert!(search_output(&pool, run, "%", 100).await.unwrap().is_empty(), "no pattern characters");
        let other = search_output(&pool, run + 1, "task [", 100).await.unwrap();
        assert_eq!(other.len(), 3, "the other run's own lines only");
    }

    #[tokio::test]
    async fn the_recap_is_read_back_as_stored() {
        let pool = test_pool().await;
        let (_, run) = seed(
            &crate::ssr::db::backend::Db::Sqlite(pool.clone()),
            SeedSize { alerts: 1, runs: 1, lines_per_run: 0 },
        )
        .await
        .unwrap();
        assert_eq!(run_recap(&pool, run).await.unwrap(), None);
        let json = r#"{"web1":{"changed":1,"failed":0,"ok":3}}"#;
        sqlx::query("UPDATE heal_runs SET recap = ? WHERE id = ?")
            .bind(json)
            .bind(run)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(run_recap(&pool, run).await.unwrap().as_deref(), Some(json));
        assert_eq!(run_recap(&pool, run + 99).await.unwrap(), None, "no such run");
    }
}
