//! The integration tests, one binary (the suite links once): the real router through
//! `tower::ServiceExt::oneshot` (`common::TestApp`), the real binary where a test needs a process
//! (crash safety, recovery, verification, slow clients), real `ansible-playbook` and
//! `ansible-inventory`. The tests that need the machine provisioned (Docker, the native stack,
//! Chromium, promtool) are the other tier, `tests/e2e`.
#[path = "../common/mod.rs"]
mod common;

mod account;
mod actions;
mod alertmanager;
mod ansible;
mod approvals;
mod assets;
mod audit_chain;
mod auth;
mod auth_matrix;
mod blast_radius;
mod catalog;
mod cli;
pub mod crash_safety;
mod db_backends;
mod db_copy;
mod directory_ldap;
mod directory_oidc;
mod engine;
mod events;
mod export;
mod fuzz_webhook;
mod guards;
mod ha_failover;
mod ha_heal_loop;
mod ha_intake;
mod ha_liveness;
mod ha_news;
mod ha_outage;
mod ha_serve;
mod ha_storm;
mod headers;
mod heal_loop;
mod injection;
mod leader;
mod lists;
mod metrics_text;
mod notify_silence;
mod pause;
mod postgres_schema;
mod recovery;
mod retention;
mod rules_cases;
mod rules_reload;
mod rules_view;
mod run_tasks;
mod slow_clients;
mod stack_script;
mod tls_outgoing;
mod tls_serving;
mod user_admin;
mod verification;
mod verify_hold;
mod webhook;
mod windows;
