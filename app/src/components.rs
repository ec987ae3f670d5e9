//! Reusable pieces of the UI.
pub mod badges;
pub mod empty_state;
pub mod heal_button;
pub mod list_nav;
pub mod shell;
