//! One component per route.
pub mod account;
pub mod admin;
pub mod admin_tokens;
pub mod alert;
pub mod alerts;
pub mod approvals;
pub mod audit;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod playbooks;
pub mod routes;
pub mod rules;
pub mod run;
pub mod runs;
pub mod windows;
