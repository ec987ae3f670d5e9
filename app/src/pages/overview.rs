//! `/`: what is happening now.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::empty_state::EmptyState;

/// The overview. Alert and run figures arrive with the intake and engine.
#[component]
pub fn OverviewPage() -> impl IntoView {
    view! {
        <Title text="Overview"/>
        <h1>"Overview"</h1>
        <EmptyState title="No alerts received yet">
            <p>"Point Alertmanager's webhook receiver at "<code>"http://<this host>:5000/webhook"</code>
               " with basic auth; firing alerts then show up here, with what selfheal did about them."</p>
        </EmptyState>
    }
}
