//! `/runs`: heal runs.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::empty_state::EmptyState;

/// The heal runs (filled in by the engine).
#[component]
pub fn RunsPage() -> impl IntoView {
    view! {
        <Title text="Runs"/>
        <h1>"Runs"</h1>
        <EmptyState title="No heal runs yet">
            <p>"A run starts when a firing alert matches a rule in "<code>"selfheal.toml"</code>"."</p>
        </EmptyState>
    }
}
