//! The inventory's hosts for `--limit` checks: read with `ansible-inventory --list` (no shell)
//! the first time they are needed and again only when the inventory changed (its files'
//! modification times and sizes), cached in between.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::ssr::heal::KnownHosts;

/// How often the inventory's files are looked at for a change: a `stat` per decision would be
/// cheap, but not free under a webhook storm, and an edit is picked up within a second.
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// Longest `ansible-inventory --list` may take (a dynamic inventory may call an API); after
/// that it is killed and every limit refused until the next change.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// The inventory's files as last seen: (path, modified, size) of the file, or of every entry
/// of the folder, recursively.
type Stamp = Vec<(PathBuf, Option<SystemTime>, u64)>;

#[derive(Debug, Default)]
struct Cached {
    stamp: Option<Stamp>,
    checked_at: Option<Instant>,
    hosts: Arc<KnownHosts>,
}

/// A shared, cheaply cloned handle on the inventory's hosts.
#[derive(Clone, Debug)]
pub struct InventoryHosts {
    source: Option<Arc<(PathBuf, PathBuf)>>,
    cached: Arc<Mutex<Cached>>,
}

impl InventoryHosts {
    /// The hosts of `inventory` as `command` (`ansible-inventory`) lists them.
    pub fn new(command: PathBuf, inventory: PathBuf) -> InventoryHosts {
        InventoryHosts { source: Some(Arc::new((command, inventory))), cached: Arc::default() }
    }

    /// Always exactly `hosts` (tests, and callers without an inventory).
    pub fn fixed(hosts: KnownHosts) -> InventoryHosts {
        let cached = Cached { hosts: Arc::new(hosts), ..Cached::default() };
        InventoryHosts { source: None, cached: Arc::new(Mutex::new(cached)) }
    }

    /// The hosts now: cached, or listed again when the inventory changed. Blocks while listing
    /// (about a second, once per change): call from a blocking-friendly thread.
    pub fn current(&self) -> Arc<KnownHosts> {
        let Some(source) = &self.source else { return self.lock().hosts.clone() };
        let (command, inventory) = (&source.0, &source.1);
        let mut cached = self.lock();
        if cached.checked_at.is_some_and(|t| t.elapsed() < RECHECK_EVERY) {
            return cached.hosts.clone();
        }
        let stamp = stamp_of(inventory);
        if cached.stamp.as_ref() != Some(&stamp) {
            let hosts = list_hosts(command, inventory).unwrap_or_else(KnownHosts::unreadable);
            match hosts.unreadable_reason() {
                Some(why) => {
                    tracing::warn!(inventory = %inventory.display(), reason = %why, "cannot list the inventory's hosts")
                }
                None => tracing::info!(inventory = %inventory.display(), "inventory hosts listed"),
            }
            cached.hosts = Arc::new(hosts);
            cached.stamp = Some(stamp);
        }
        cached.checked_at = Some(Instant::now());
        cached.hosts.clone()
    }

    /// [`current`](Self::current) off the async threads.
    pub async fn current_async(&self) -> Arc<KnownHosts> {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.current()).await {
            Ok(hosts) => hosts,
            Err(e) => Arc::new(KnownHosts::unreadable(format!("listing task failed: {e}"))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn stamp_of(path: &Path) -> Stamp {
    let mut stamp = Vec::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::metadata(&p).ok();
        if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
            if let Ok(entries) = std::fs::read_dir(&p) {
                todo.extend(entries.flatten().map(|e| e.path()));
            }
        }
        let modified = meta.as_ref().and_then(|m| m.modified().ok());
        stamp.push((p, modified, meta.map_or(0, |m| m.len())));
    }
    stamp.sort();
    stamp
}

/// Runs `command -i inventory --list` and parses its hosts.
fn list_hosts(command: &Path, inventory: &Path) -> Result<KnownHosts, String> {
    let mut child = Command::new(command)
        .arg("-i")
        .arg(inventory)
        .arg("--list")
        .env("ANSIBLE_NOCOLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", command.display()))?;
    let deadline = Instant::now() + LIST_TIMEOUT;
    // Read stdout on its own thread so a large inventory cannot fill the pipe and stall.
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => break,
            Some(status) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
                return Err(format!("{} exited with {status}: {last}", command.display()));
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} took longer than {LIST_TIMEOUT:?}", command.display()));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = reader.join().map_err(|_| "reader thread panicked")?.map_err(|e| e.to_string())?;
    KnownHosts::from_inventory_list(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_listed_by_ansible_inventory_and_again_after_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let inventory = dir.path().join("hosts.ini");
        std::fs::write(&inventory, "[web]\nweb1 ansible_connection=local\n").unwrap();
        let hosts = InventoryHosts::new("ansible-inventory".into(), inventory.clone());
        assert_eq!(hosts.current().check("web1"), Ok(()));
        assert!(hosts.current().check("web").is_err(), "a group");
        std::fs::write(&inventory, "[web]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n")
            .unwrap();
        std::thread::sleep(RECHECK_EVERY);
        assert_eq!(hosts.current().check("web2"), Ok(()), "listed again after the change");
        let missing = InventoryHosts::new("ansible-inventory".into(), dir.path().join("nope.ini"));
        assert!(missing.current().check("web1").is_err());
        let no_command = InventoryHosts::new(dir.path().join("no-such-command"), inventory);
        assert!(no_command.current().check("web1").unwrap_err().contains("cannot start"));
    }
}
