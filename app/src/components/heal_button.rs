//! "Heal now" for an alert, with a confirmation step that needs no JavaScript (a disclosure).
use leptos::prelude::*;

use crate::api::heal::HealNow;

/// A heal-now disclosure: open it, choose dry run or not, confirm.
#[component]
pub fn HealNowButton(alert_id: i64) -> impl IntoView {
    let action = ServerAction::<HealNow>::new();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <details class="heal-now" data-testid="heal-now">
            <summary class="btn btn-small">"Heal now"</summary>
            <ActionForm action=action>
                <input type="hidden" name="alert_id" value=alert_id.to_string()/>
                <label class="inline"><input type="checkbox" name="dry_run" value="true"/>" dry run (--check)"</label>
                <button type="submit" class="btn btn-primary btn-small" data-testid="heal-now-confirm">"Run the rule's playbook now"</button>
            </ActionForm>
            {move || error().map(|e| view! { <p class="error">{e}</p> })}
        </details>
    }
}
