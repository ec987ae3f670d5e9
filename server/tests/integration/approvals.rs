//! The approvals queue through the real router: a run an approval rule parked is listed with
//! its alert for viewers; an operator's approval (with a comment, audited) takes it off.
use crate::common;

use axum::http::StatusCode;

use app::model::{PendingApproval, Role};
use common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

#[tokio::test]
async fn parked_runs_are_listed_until_an_operator_decides() {
    let rule = serde_json::json!({
        "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
        "mode": "approval",
    });
    let app = TestApp::with(|config, dir| common::one_rule(config, dir, rule)).await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    let vera = app.login("vera", "viewer-password-1").await;
    let olga = app.login("olga", "operator-password-1").await;
    let pending = || async {
        let res = app.post_form("/api/approvals", &[], Some(&vera)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        serde_json::from_str::<Vec<PendingApproval>>(&res.body).unwrap()
    };
    assert!(pending().await.is_empty());

    app.deliver(FIRING).await;
    let listed = pending().await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let p = &listed[0];
    assert_eq!(
        (p.alertname.as_deref(), p.rule.as_str(), p.playbook.as_str(), p.requested_by.as_str()),
        (Some("NginxDown"), "nginx-down", "heal-nginx.yml", "engine")
    );
    assert!(p.alert_id.is_some() && !p.target.is_empty() && !p.requested_at.is_empty(), "{p:?}");
    let ttl = app.config.engine.approval_ttl;
    assert_eq!(p.expires_at, app::ssr::alert::add_utc(&p.requested_at, ttl).unwrap(), "expiry shown: {p:?}");
    let overview = app.post_form("/api/overview", &[], Some(&vera)).await.json();
    assert_eq!(overview["awaiting_approval"], 1);

    let run_id = p.run_id.to_string();
    let form = [("run_id", run_id.as_str()), ("approve", "true"), ("comment", "go ahead")];
    assert_eq!(app.post_form("/api/approve_run", &form, Some(&vera)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(pending().await.len(), 1, "a viewer's refused approval changed nothing");
    let res = app.post_form("/api/approve_run", &form, Some(&olga)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(pending().await.is_empty(), "approved: off the queue");
    let (status, detail): (String, String) = sqlx::query_as(
        "SELECT r.status, e.detail FROM heal_runs r, audit_events e \
         WHERE r.id = ? AND e.action = 'run.approve' AND e.actor = 'olga'",
    )
    .bind(p.run_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), detail.as_str()), ("queued", "go ahead"));
    let again = app.post_form("/api/approve_run", &form, Some(&olga)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
}
