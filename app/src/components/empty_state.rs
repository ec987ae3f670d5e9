//! A friendly "nothing here yet" panel that says what to do next.
use leptos::prelude::*;

/// An empty state with a title and a hint (children).
#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="empty-state">
            <h2>{title}</h2>
            <div class="hint">{children()}</div>
        </section>
    }
}
