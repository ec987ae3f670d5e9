//! A run's tasks through the router (`/api/run_tasks`): each task of the real playbook's
//! output with its result and duration, and the failed task's failure line.
use axum::http::StatusCode;

use app::model::Role;

use crate::common::{self, TestApp};

const PLAYBOOK: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: look around
      ansible.builtin.debug:
        msg: looking
    - name: restart nginx
      ansible.builtin.fail:
        msg: nginx would not start
    - name: never reached
      ansible.builtin.debug:
        msg: unreachable
";

#[tokio::test]
async fn a_failed_run_lists_its_tasks_and_names_the_one_that_failed() {
    let app = TestApp::with(|config, dir| {
        common::one_rule(
            config,
            dir,
            serde_json::json!({ "name": "nginx-down", "match": { "alertname": "NginxDown" }, "playbook": "heal-nginx.yml" }),
        );
        std::fs::write(dir.join("ansible").join("heal-nginx.yml"), PLAYBOOK).unwrap();
    })
    .await;
    app.deliver(include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json")).await;
    let run = app.worker.run_once().await.unwrap().expect("a run");
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let cookie = app.login("vera", "viewer-password-1").await;

    let res = app.post_form("/api/run_tasks", &[("id", &run.to_string())], Some(&cookie)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let tasks = res.json();
    let tasks = tasks.as_array().unwrap();
    let got: Vec<(&str, &str)> =
        tasks.iter().map(|t| (t["name"].as_str().unwrap(), t["status"].as_str().unwrap())).collect();
    assert_eq!(got, [("look around", "ok"), ("restart nginx", "failed")], "the play stops at the failure");
    assert!(tasks.iter().all(|t| t["duration_ms"].as_i64().is_some_and(|ms| ms >= 0)), "{tasks:?}");
    let failure = tasks[1]["failure"].as_str().unwrap();
    assert!(failure.starts_with("fatal:") && failure.contains("nginx would not start"), "{failure}");
    let seq = tasks[1]["failure_seq"].as_i64().unwrap();
    let line: String = sqlx::query_scalar("SELECT line FROM run_output WHERE run_id = ? AND seq = ?")
        .bind(run)
        .bind(seq)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(line, failure, "the link points at the failure line");

    let page = app.get(&format!("/runs/{run}"), Some(&cookie)).await;
    assert!(page.body.contains("data-testid=\"failed-task\""), "the failed task heads the page");
}
