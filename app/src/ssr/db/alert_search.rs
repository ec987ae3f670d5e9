//! The full-text index of alerts (`alerts_search`, a trigram FTS5 table): filled in short
//! batches by a background indexer from `alert_search_state.indexed_up_to` upwards, so storing
//! a webhook does no indexing; searched with a phrase of three characters or more (a substring
//! in any case).
use sqlx::{SqliteExecutor, SqlitePool};

/// Alerts indexed per write transaction: a few milliseconds of the write lock, so intake's group
/// commits wait at most that long behind the indexer.
pub const INDEX_BATCH: i64 = 500;

/// The FTS5 query that finds `text` as a substring (the trigram tokenizer needs three
/// characters), or `None` for shorter text (then the bounded scan searches).
pub fn phrase(text: &str) -> Option<String> {
    (text.chars().count() >= 3).then(|| format!("\"{}\"", text.replace('"', "\"\"")))
}

/// The highest alert id the index holds (every alert at or below it is in it).
pub async fn indexed_up_to(ex: impl SqliteExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT indexed_up_to FROM alert_search_state WHERE id = 1").fetch_one(ex).await
}

/// Indexes up to [`INDEX_BATCH`] alerts above the mark, in one write transaction; returns how
/// many (fewer than the batch: caught up).
pub async fn index_step(pool: &SqlitePool) -> Result<usize, sqlx::Error> {
    let mut tx = crate::ssr::db::begin_write(pool).await?;
    let from = indexed_up_to(&mut *tx).await?;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM alerts WHERE id > ? ORDER BY id LIMIT ?")
        .bind(from)
        .bind(INDEX_BATCH)
        .fetch_all(&mut *tx)
        .await?;
    let Some(&last) = ids.last() else { return Ok(0) };
    sqlx::query(
        "INSERT INTO alerts_search (rowid, alertname, instance, labels, annotations) \
         SELECT id, alertname, coalesce(instance, ''), \
           (SELECT group_concat(value, char(10)) FROM json_each(labels)), \
           (SELECT group_concat(value, char(10)) FROM json_each(annotations)) \
         FROM alerts WHERE id > ? AND id <= ?",
    )
    .bind(from)
    .bind(last)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE alert_search_state SET indexed_up_to = ? WHERE id = 1")
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids.len())
}

/// Indexes until caught up; returns how many.
pub async fn index_all(pool: &SqlitePool) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    loop {
        let n = index_step(pool).await?;
        total += n;
        if (n as i64) < INDEX_BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phrase_is_quoted_and_needs_three_characters() {
        assert_eq!(phrase("ng"), None);
        assert_eq!(phrase("ngi").as_deref(), Some("\"ngi\""));
        assert_eq!(phrase("say \"hi\"").as_deref(), Some("\"say \"\"hi\"\"\""));
        assert_eq!(phrase("äöü").as_deref(), Some("\"äöü\""), "characters, not bytes");
    }
}
