//! `/alerts`: alert history.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::empty_state::EmptyState;

/// The alert history (filled in by the intake).
#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <Title text="Alerts"/>
        <h1>"Alerts"</h1>
        <EmptyState title="No alerts yet">
            <p>"Send one with Alertmanager, or by hand:"</p>
            <pre>"curl -u alertmanager:$SELFHEAL_WEBHOOK_PASSWORD -H 'Content-Type: application/json' \\\n  --data @alert.json http://127.0.0.1:5000/webhook"</pre>
        </EmptyState>
    }
}
