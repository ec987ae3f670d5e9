//! The 404 page, answered with status 404.
use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any path no route matches.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <div class="login-page">
            <div class="card">
                <h1>"404 — nothing here"</h1>
                <p class="muted">"The page you asked for does not exist."</p>
                <p><a href="/">"Back to the overview"</a></p>
            </div>
        </div>
    }
}
