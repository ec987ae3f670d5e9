//! Reusable pieces of the UI.
pub mod approval_form;
pub mod badges;
pub mod blast_banner;
pub mod breaker_reset;
#[cfg(feature = "ssr")]
pub mod chart;
pub mod empty_state;
pub mod heal_button;
pub mod kill_switch;
pub mod list_nav;
pub mod live;
pub mod load;
pub mod run_output;
pub mod shell;
pub mod silence_button;
pub mod time;
