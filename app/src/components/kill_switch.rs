//! The kill switch in the dashboard, for operators only (the server checks again): pause all
//! healing or one rule's, with the reason everyone will read, and resume. Plain HTML forms
//! posting to the server functions, which send the browser back to the page: they work before
//! hydration, and cost the bundle nothing (an action per form added 34 KB of wasm).
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::heal::{PauseHealing, ResumeHealing};
use crate::api::rules::ReloadRules;

/// "Pause healing" (everything, or `rule`'s) with a required reason. Render it for operators
/// only (`shell::allows`).
#[component]
pub fn PauseForm(#[prop(optional)] rule: Option<String>) -> impl IntoView {
    let label = if rule.is_some() { "Pause this rule" } else { "Pause all healing" };
    let testid = if rule.is_some() { "pause-rule" } else { "pause-all" };
    view! {
        <form method="post" action=PauseHealing::PATH class="inline-form kill-switch">
            <input type="hidden" name="rule" value=rule.unwrap_or_default()/>
            <input type="text" name="reason" required=true maxlength="500"
                placeholder="Why (everyone sees it)" aria-label="Reason for the pause"
                data-testid=format!("{testid}-reason")/>
            <button type="submit" class="btn btn-small btn-danger" data-testid=testid>{label}</button>
        </form>
    }
}

/// "Resume" for one pause (`scope`: a rule's name, or `*` for everything). Operators only.
#[component]
pub fn ResumeButton(scope: String) -> impl IntoView {
    let rule = if scope == "*" { String::new() } else { scope };
    view! {
        <form method="post" action=ResumeHealing::PATH class="inline-form">
            <input type="hidden" name="rule" value=rule/>
            <button type="submit" class="btn btn-small" data-testid="resume">"Resume"</button>
        </form>
    }
}

/// "Reload rules" from the config file, as SIGHUP does (admins only; the outcome is in the audit
/// log, and a changed set shows here at once).
#[component]
pub fn ReloadRulesButton() -> impl IntoView {
    view! {
        <form method="post" action=ReloadRules::PATH class="inline-form">
            <button type="submit" class="btn btn-small" data-testid="reload-rules">"Reload rules from the config file"</button>
        </form>
    }
}
