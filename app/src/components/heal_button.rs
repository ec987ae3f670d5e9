//! "Heal now" for an alert, with a confirmation step that needs no JavaScript (a disclosure).
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::heal::HealNow;

/// A heal-now disclosure: open it, choose dry run or not, confirm. A plain form: the server
/// sends the browser to the live run (an action form here cost the bundle its own code).
#[component]
pub fn HealNowButton(alert_id: i64) -> impl IntoView {
    view! {
        <details class="heal-now" data-testid="heal-now">
            <summary class="btn btn-small">"Heal now"</summary>
            <form method="post" action=HealNow::PATH>
                <input type="hidden" name="alert_id" value=alert_id.to_string()/>
                <label class="inline"><input type="checkbox" name="dry_run" value="true"/>" dry run (--check)"</label>
                <button type="submit" class="btn btn-primary btn-small" data-testid="heal-now-confirm">"Run the rule's playbook now"</button>
            </form>
        </details>
    }
}

/// Heal now, or — while the alert's run is queued or running — a link to watch it (a second
/// heal would be refused: one run per target).
#[component]
pub fn HealOrWatch(alert_id: i64, run_in_flight: Option<i64>) -> impl IntoView {
    match run_in_flight {
        Some(run) => view! {
            <a class="btn btn-small" href=format!("/runs/{run}") data-testid="watch-run">{format!("Watch run #{run}")}</a>
        }
        .into_any(),
        None => view! { <HealNowButton alert_id/> }.into_any(),
    }
}
