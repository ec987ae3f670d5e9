//! This process as a replica of the cluster (issue 28): one identity for its whole life, named
//! by the runs and verifications it holds (`app::ssr::db::replicas`).
use std::sync::OnceLock;

/// This process's replica id: the host name, the process id and when it started (a restarted
/// process with a reused pid is a new replica).
pub fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or_default();
        format!("{}:{}:{started:x}", host(), std::process::id())
    })
}

/// The host name, as the kernel has it ("unknown" when it cannot be read).
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
