//! Reusable pieces of the UI.
pub mod badges;
#[cfg(feature = "ssr")]
pub mod chart;
pub mod empty_state;
pub mod heal_button;
pub mod run_output;
pub mod shell;
pub mod silence_button;
pub mod time;
