//! Status words with a colour and a symbol (never colour alone).
use leptos::prelude::*;

/// A run status or verification verdict as a badge.
#[component]
pub fn StatusBadge(#[prop(into)] status: String) -> impl IntoView {
    let (symbol, tone) = match status.as_str() {
        "verified" | "succeeded" => ("✓", "ok"),
        "firing" | "failed" | "not_fixed" | "timed_out" => ("✗", "bad"),
        "running" | "queued" | "pending" | "awaiting_approval" => ("…", "busy"),
        "resolved" => ("✓", "ok"),
        _ => ("•", "neutral"),
    };
    view! { <span class=format!("badge tone-{tone}")>{symbol}" "{status.replace('_', " ")}</span> }
}
