//! Reusable pieces of the UI.
pub mod empty_state;
pub mod shell;
