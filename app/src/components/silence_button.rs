//! "Silence" for a firing alert: a disclosure with a duration and a required reason, creating
//! the silence in Alertmanager through selfheal (so it is audited under the user's name).
use leptos::prelude::*;

use crate::api::silence::SilenceAlert;

/// Durations offered, in hours.
const HOURS: [(u32, &str); 4] = [(1, "1 hour"), (4, "4 hours"), (24, "1 day"), (168, "1 week")];

/// The silence disclosure; `alertmanager` is Alertmanager's external URL (for a link to the new
/// silence), when the alert carried one.
#[component]
pub fn SilenceButton(alert_id: i64, alertmanager: Option<String>) -> impl IntoView {
    let action = ServerAction::<SilenceAlert>::new();
    view! {
        <details class="heal-now" data-testid="silence">
            <summary class="btn btn-small">"Silence…"</summary>
            <ActionForm action=action>
                <input type="hidden" name="alert_id" value=alert_id.to_string()/>
                <label class="inline">"for "
                    <select name="hours">
                        {HOURS.into_iter().map(|(h, text)| view! { <option value=h.to_string() selected=h == 4>{text}</option> }).collect_view()}
                    </select>
                </label>
                <input type="text" name="comment" required placeholder="why (required)" aria-label="Reason for the silence"/>
                <button type="submit" class="btn btn-small" data-testid="silence-confirm">"Silence in Alertmanager"</button>
            </ActionForm>
            {move || action.value().get().map(|r| match r {
                Ok(id) => {
                    // Only an http(s) Alertmanager URL becomes a link (it comes from alert data).
                    let link = alertmanager.clone().filter(|url| crate::model::http_link(url).is_some()).map(|url| view! { " "<a href=format!("{url}/#/silences/{id}") rel="noopener">"open in Alertmanager"</a> });
                    view! { <p class="notice" data-testid="silence-result">{format!("Silenced (silence {id}).")}{link}</p> }.into_any()
                }
                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
            })}
        </details>
    }
}
