//! Audit exports: the events about to leave the database, written with their chain hashes to a
//! JSON Lines file (mode 0600, fsync'd) and recorded, before the database lets them go.
use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use app::ssr::db::backend::Db;
use serde::Serialize;
use sha2::{Digest, Sha256};

use app::model::AuditEvent;
use app::ssr::db::audit_chain::{audit_anchor, chain_hash};
use app::ssr::db::audit_export::{commit_audit_export, exportable_audit, NewAuditExport, SealedEvent};

/// First line of every export file: names the format, so a reader knows what follows.
pub const EXPORT_FORMAT: &str = "selfheal-audit-export/1";

/// What one audit batch did.
#[derive(Debug, Default)]
pub struct AuditBatch {
    /// Events exported and pruned.
    pub events: u64,
    /// The file written.
    pub file: Option<PathBuf>,
    /// More events are due.
    pub more: bool,
}

/// Exports the oldest sealed events recorded before `before` (at most `limit`) to a file in
/// `dir`, records the export and prunes them. Refuses when their chain does not hold: a
/// tampered log is not exported as if it were history.
pub async fn prune_audit(pool: &Db, dir: &Path, before: &str, limit: i64) -> anyhow::Result<AuditBatch> {
    let (after, prev) = audit_anchor(pool).await?;
    let events = exportable_audit(pool, before, limit).await?;
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(AuditBatch::default());
    };
    let mut hash = prev.clone();
    for e in &events {
        if chain_hash(&hash, &e.event) != e.hash {
            anyhow::bail!(
                "the audit chain is broken at event {}: not exporting it (run `selfheal audit verify`)",
                e.event.id
            );
        }
        hash.clone_from(&e.hash);
    }
    let file = {
        let (owned, events) = (dir.to_owned(), events.clone());
        tokio::task::spawn_blocking(move || write_export(&owned, &prev, &events))
            .await?
            .with_context(|| format!("cannot write an audit export in {}", dir.display()))?
    };
    let record = NewAuditExport {
        after_event_id: after,
        from_event_id: first.event.id,
        up_to_event_id: last.event.id,
        events: events.len() as i64,
        file: &file.path.to_string_lossy(),
        sha256: &file.sha256,
        last_hash: &last.hash,
    };
    match commit_audit_export(pool, &record).await? {
        Some(pruned) => {
            Ok(AuditBatch { events: pruned, file: Some(file.path), more: events.len() as i64 >= limit })
        }
        None => {
            // Not recorded: the file holds nothing the database let go of.
            let _ = std::fs::remove_file(&file.path);
            anyhow::bail!("the audit log changed during the export: nothing pruned, next round retries")
        }
    }
}

/// A written export.
#[derive(Debug)]
pub struct ExportFile {
    pub path: PathBuf,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
}

/// The file's first line.
#[derive(Serialize)]
struct Header<'a> {
    format: &'static str,
    from_event_id: i64,
    up_to_event_id: i64,
    events: usize,
    /// Chain hash before the first event: the file verifies on its own from here.
    prev_hash: &'a str,
}

/// One event per line, with its chain hash.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    event: &'a AuditEvent,
    hash: &'a str,
}

/// Writes `events` (not empty) to `audit-<first id>-<last id>.jsonl` in `dir` (created 0700):
/// a temporary file, mode 0600, fsync'd, renamed into place, the directory fsync'd, so after a
/// crash the file is either whole or absent.
pub fn write_export(dir: &Path, prev_hash: &str, events: &[SealedEvent]) -> std::io::Result<ExportFile> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(std::io::Error::other("nothing to export"));
    };
    let (from, to) = (first.event.id, last.event.id);
    let header = Header {
        format: EXPORT_FORMAT,
        from_event_id: from,
        up_to_event_id: to,
        events: events.len(),
        prev_hash,
    };
    let mut text = serde_json::to_string(&header)? + "\n";
    for e in events {
        text += &serde_json::to_string(&Line { event: &e.event, hash: &e.hash })?;
        text.push('\n');
    }

    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let dir = std::fs::canonicalize(dir)?;
    let name = format!("audit-{from:012}-{to:012}.jsonl");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    // A leftover temporary file keeps its old mode through `create`: set it again.
    file.set_permissions(Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path)?;
    File::open(&dir)?.sync_all()?;
    let sha256 = format!("{:x}", Sha256::digest(text.as_bytes()));
    Ok(ExportFile { path, sha256 })
}
