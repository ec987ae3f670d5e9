//! `verify_hold` left unset is derived from the alert's own rule in a real Prometheus: its
//! `for` plus its group's evaluation interval, never below the default; an alert Prometheus
//! has no rule for, or a Prometheus that does not answer, gets the default.
use std::time::Duration;

use app::ssr::heal::DEFAULT_VERIFY_HOLD;
use server::outgoing::Outgoing;
use server::verify::Prometheus;
use server::verify_hold::AlertHolds;

use crate::common::prometheus::Prometheus as RealPrometheus;

#[tokio::test]
async fn a_heal_holds_as_long_as_its_alert_takes_to_fire_again() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: slow\n    interval: 2s\n    rules:\n      - alert: SlowToFire\n        expr: vector(0) > 1\n        for: 7s\n\
         \n  - name: fast\n    interval: 1s\n    rules:\n      - alert: QuickToFire\n        expr: vector(0) > 1\n",
    )
    .unwrap();
    let prom =
        RealPrometheus::start(dir.path(), "global:\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n")
            .await;
    let prometheus = Prometheus::new(&prom.url, &Outgoing::default());
    let holds = AlertHolds::default();

    let (hold, why) = holds.hold_for(&prometheus, "SlowToFire").await;
    assert_eq!(
        (hold, why.as_str()),
        (Duration::from_secs(9), "SlowToFire's `for` plus its evaluation interval")
    );
    let (hold, why) = holds.hold_for(&prometheus, "QuickToFire").await;
    assert_eq!(hold, DEFAULT_VERIFY_HOLD, "{why}");
    let (hold, why) = holds.hold_for(&prometheus, "NoSuchAlert").await;
    assert_eq!(hold, DEFAULT_VERIFY_HOLD);
    assert!(why.contains("no alerting rule NoSuchAlert"), "{why}");

    let down = Prometheus::new("http://127.0.0.1:9", &Outgoing::default());
    assert_eq!(AlertHolds::default().hold_for(&down, "SlowToFire").await.0, DEFAULT_VERIFY_HOLD);
}
