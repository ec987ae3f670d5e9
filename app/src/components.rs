//! Reusable pieces of the UI.
pub mod approval_form;
pub mod badges;
pub mod breaker_reset;
pub mod empty_state;
pub mod heal_button;
pub mod shell;
