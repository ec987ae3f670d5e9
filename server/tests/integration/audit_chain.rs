//! The server's sealer covers new audit events within seconds and stops with the server.
use crate::common;

use std::time::{Duration, Instant};

use app::model::Role;
use app::ssr::db::audit_chain::{verify_audit, ChainReport};
use common::TestApp;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn the_sealer_seals_new_events_and_stops_when_told() {
    let app = TestApp::new().await;
    app.add_user("ann", "ann-password-1", Role::Admin).await;
    app.login("ann", "ann-password-1").await;
    let stop = CancellationToken::new();
    let sealer = tokio::spawn(server::audit::run_sealer(app.db(), stop.clone()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match verify_audit(&app.pool).await.unwrap() {
            ChainReport::Intact { sealed, unsealed: 0, .. } if sealed >= 1 => break,
            ChainReport::Broken { event_id, reason } => panic!("broken at {event_id}: {reason}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "not sealed within {:?}", server::audit::SEAL_EVERY * 10);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), sealer).await.expect("the sealer stops").unwrap();
}
