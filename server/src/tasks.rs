//! `serve`'s background tasks: each named and tracked, each one that fails logged with its
//! name; and the inventory watcher among them.
use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use app::ssr::inventory::InventoryHosts;

/// How often the inventory is looked at for a change while serving.
const INVENTORY_RECHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// Lists the inventory's hosts again whenever it changed, until `stop`.
pub async fn keep_inventory_fresh(inventory: InventoryHosts, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(INVENTORY_RECHECK) => {
                inventory.current_async().await;
            }
        }
    }
}

/// `serve`'s background tasks: each named and tracked, each one that fails (an error or a
/// panic) logged with its name; `wait` returns once every one has ended.
#[derive(Default)]
pub struct Tasks {
    tracker: TaskTracker,
}

impl Tasks {
    pub fn spawn(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        self.spawn_fallible(name, async move {
            task.await;
            Ok(())
        });
    }

    pub fn spawn_fallible(
        &self,
        name: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let task = tokio::spawn(task);
        self.tracker.spawn(async move {
            match task.await {
                Ok(Ok(())) => tracing::debug!(task = name, "stopped"),
                Ok(Err(e)) => {
                    tracing::error!(task = name, error = %format!("{e:#}"), "background task failed")
                }
                Err(e) => tracing::error!(task = name, error = %e, "background task panicked"),
            }
        });
    }

    pub async fn wait(self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
