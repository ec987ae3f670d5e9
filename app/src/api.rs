//! Server functions, grouped by feature. Every endpoint has a fixed name under `/api/` so that
//! scripts can call it (form-encoded POST, JSON answer); see the README's API section.
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod gates;
pub mod heal;
pub mod rules;
pub mod run_output;
pub mod runs;
pub mod silence;
pub mod users;
