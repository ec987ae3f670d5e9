//! The rules page's data through the real router: each loaded rule as configured, and the
//! breaker per target the engine opened, closed again by an operator's reset.
use crate::common;

use axum::http::StatusCode;

use app::model::{Role, RuleView};
use common::TestApp;

const FIRING: &str = include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json");

#[tokio::test]
async fn rules_show_their_config_and_the_breaker_the_engine_opened() {
    let rule = serde_json::json!({
        "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml",
        "max_attempts": 1, "window": "1h", "cooldown": "0s",
        "notify": ["https://user:hook-secret@hooks.example/x"],
    });
    let app = TestApp::with(|config, dir| common::one_rule(config, dir, rule)).await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    app.add_user("olga", "operator-password-1", Role::Operator).await;
    let vera = app.login("vera", "viewer-password-1").await;
    let olga = app.login("olga", "operator-password-1").await;
    let rules = || async {
        let res = app.post_form("/api/rules", &[], Some(&vera)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(!res.body.contains("hook-secret"), "notification URLs stay on the server");
        serde_json::from_str::<Vec<RuleView>>(&res.body).unwrap()
    };

    let before = rules().await;
    assert_eq!(before.len(), 1);
    let rule = &before[0];
    assert_eq!(
        (rule.name.as_str(), rule.playbook.as_str(), rule.mode.as_str()),
        ("nginx-down", "heal-nginx.yml", "auto")
    );
    assert_eq!(rule.matchers, [r#"alertname="NginxDown""#]);
    assert_eq!((rule.max_attempts, rule.window.as_str(), rule.notify_targets), (1, "1h", 1));
    assert!(rule.breakers.is_empty(), "no attempt yet: {:?}", rule.breakers);

    // The engine's one attempt opens the breaker on that target.
    app.deliver(FIRING).await;
    let breakers = rules().await.remove(0).breakers;
    assert_eq!(breakers.len(), 1, "{breakers:?}");
    let target = breakers[0].target.clone();
    assert!(
        breakers[0].open && breakers[0].attempts == 1 && breakers[0].last_reset.is_none(),
        "{breakers:?}"
    );

    // A viewer may not reset it; an operator does, and it shows closed with the reset.
    let form = [("rule", "nginx-down"), ("target", target.as_str())];
    assert_eq!(app.post_form("/api/reset_breaker", &form, Some(&vera)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post_form("/api/reset_breaker", &form, Some(&olga)).await.status, StatusCode::OK);
    let after = rules().await.remove(0).breakers;
    assert!(!after[0].open && after[0].attempts == 0 && after[0].last_reset.is_some(), "{after:?}");
    assert_eq!(after[0].last_attempt, breakers[0].last_attempt);
}
