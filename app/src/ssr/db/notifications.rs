//! The raw notifications kept for replay and audit. Bodies of a page or more are packed
//! (zstd) on the request's thread, before they reach the single inbox writer: as text a
//! 100-alert notification's body was over a third of the bytes each group commit wrote to the
//! WAL, synced and copied into the database again. Smaller ones (a single alert is about
//! 1 KB) are kept as text: packing them saved little and cost single-alert intake about 8 %.
//! [`raw_notification`] reads either, and the text of rows stored before packing existed.
use std::cell::RefCell;

use super::backend::{on_backend, Ex};

/// zstd's fastest standard level: Alertmanager's JSON (the same label names, annotations
/// and URLs alert after alert) still packs several times over.
const LEVEL: i32 = 1;

/// Bodies this large or larger are packed: a database page.
pub const PACK_FROM: usize = 4096;

/// `payload_encoding` of a body stored as it came.
pub const IDENTITY: &str = "identity";
/// `payload_encoding` of a packed body: one zstd frame.
pub const ZSTD: &str = "zstd";

thread_local! {
    /// One compression context per thread, kept: setting one up (its tables, zeroed) for
    /// every body cost more than packing it.
    static PACKER: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// A raw body as it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredBody {
    /// Below [`PACK_FROM`] bytes: the text as it came ([`IDENTITY`]).
    Text(String),
    /// One zstd frame ([`ZSTD`]).
    Packed(Vec<u8>),
}

impl StoredBody {
    /// Its `payload_encoding`.
    pub fn encoding(&self) -> &'static str {
        match self {
            StoredBody::Text(_) => IDENTITY,
            StoredBody::Packed(_) => ZSTD,
        }
    }

    /// The raw body again.
    pub fn unpack(self) -> std::io::Result<Vec<u8>> {
        match self {
            StoredBody::Text(text) => Ok(text.into_bytes()),
            StoredBody::Packed(bytes) => unpack(ZSTD, bytes),
        }
    }
}

/// How `raw` is stored: packed from [`PACK_FROM`] bytes, as it is below.
pub fn pack(raw: &str) -> std::io::Result<StoredBody> {
    if raw.len() < PACK_FROM {
        return Ok(StoredBody::Text(raw.to_owned()));
    }
    PACKER
        .with_borrow_mut(|packer| {
            let packer = match packer {
                Some(p) => p,
                None => packer.insert(zstd::bulk::Compressor::new(LEVEL)?),
            };
            packer.compress(raw.as_bytes())
        })
        .map(StoredBody::Packed)
}

/// The raw body `bytes` stored with `encoding` was made from.
pub fn unpack(encoding: &str, bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    match encoding {
        ZSTD => zstd::stream::decode_all(bytes.as_slice()),
        _ => Ok(bytes),
    }
}

/// Notification `id` exactly as it was received, whichever way it was stored; `None` when
/// there is no such notification (or retention pruned it).
pub async fn raw_notification<'c>(ex: impl Into<Ex<'c>>, id: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    // SQLite keeps short bodies as TEXT in the column; PostgreSQL's is BYTEA.
    let row: Option<(Vec<u8>, String)> = on_backend!(ex, |e, pg| sqlx::query_as(if pg {
        "SELECT payload, payload_encoding FROM notifications WHERE id = $1"
    } else {
        "SELECT CAST(payload AS BLOB), payload_encoding FROM notifications WHERE id = $1"
    })
    .bind(id)
    .fetch_optional(e)
    .await)?;
    let Some((bytes, encoding)) = row else { return Ok(None) };
    unpack(&encoding, bytes).map(Some).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRING: &str =
        include_str!("../../../../server/tests/fixtures/alertmanager/alertmanager-webhook-firing.json");

    #[test]
    fn bodies_of_a_page_or_more_are_packed_and_every_body_round_trips() {
        let hundred = format!("[{}]", vec![FIRING; 100].join(","));
        let (short, page, zeros) = ("x".repeat(PACK_FROM - 1), "x".repeat(PACK_FROM), "\0".repeat(70_000));
        let cases: [(&str, &str); 6] = [
            (FIRING, IDENTITY),
            ("", IDENTITY),
            (&short, IDENTITY),
            (&page, ZSTD),
            (&zeros, ZSTD),
            (&hundred, ZSTD),
        ];
        for (raw, encoding) in cases {
            let stored = pack(raw).unwrap();
            assert_eq!(stored.encoding(), encoding, "{} bytes", raw.len());
            assert_eq!(stored.unpack().unwrap(), raw.as_bytes());
        }
        let StoredBody::Packed(packed) = pack(&hundred).unwrap() else { panic!("packed") };
        assert!(packed.len() * 10 < hundred.len(), "{} packed to {}", hundred.len(), packed.len());
        assert!(unpack(ZSTD, b"not zstd".to_vec()).is_err());
    }

    #[tokio::test]
    async fn old_text_rows_and_packed_rows_read_back_alike() {
        let pool = crate::ssr::db::test_pool().await;
        let insert = "INSERT INTO notifications (id, newest_starts_at, payload_sha256, received_at, \
             last_received_at, source, receiver, status, group_key, alert_count, payload, payload_encoding) \
             VALUES (?, 't', ?, 't', 't', 'webhook', 'r', 'firing', 'g', 1, ?, ?)";
        sqlx::query(insert).bind(1).bind("a").bind(FIRING).bind(IDENTITY).execute(&pool).await.unwrap();
        let big = FIRING.repeat(10);
        let StoredBody::Packed(packed) = pack(&big).unwrap() else { panic!("packed") };
        sqlx::query(insert).bind(2).bind("b").bind(&packed).bind(ZSTD).execute(&pool).await.unwrap();
        assert_eq!(raw_notification(&pool, 1).await.unwrap().unwrap(), FIRING.as_bytes());
        assert_eq!(raw_notification(&pool, 2).await.unwrap().unwrap(), big.as_bytes());
        assert_eq!(raw_notification(&pool, 3).await.unwrap(), None);
        let bad = sqlx::query("UPDATE notifications SET payload_encoding = 'gzip' WHERE id = 1")
            .execute(&pool)
            .await;
        assert!(bad.is_err(), "unknown encodings are refused");
    }
}
