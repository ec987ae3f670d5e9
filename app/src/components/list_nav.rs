//! The pieces every filtered list shares: the time-range fields of its GET form, and the line
//! under the table with the next-page link and the export links for the same filter.
use leptos::prelude::*;

/// `since` / `from` / `to` inputs (plain form fields: the filter lives in the URL query).
#[component]
pub fn TimeRangeFields(since: Option<String>, from: Option<String>, to: Option<String>) -> impl IntoView {
    let choices = [
        ("", "any time"),
        ("1h", "last hour"),
        ("24h", "last 24 h"),
        ("7d", "last 7 days"),
        ("30d", "last 30 days"),
    ];
    view! {
        <label>"When"
            <select name="since">
                {choices.into_iter().map(|(value, text)| {
                    let selected = since.as_deref().unwrap_or("") == value;
                    view! { <option value=value selected=selected>{text}</option> }
                }).collect_view()}
            </select>
        </label>
        <label>"From (UTC)"<input type="datetime-local" name="from" value=from.unwrap_or_default()/></label>
        <label>"To (UTC)"<input type="datetime-local" name="to" value=to.unwrap_or_default()/></label>
    }
}

/// The next-page link (keeping the filter `query`) and "Export CSV / JSON" of the same rows.
/// `export` names the export (`alerts`, `runs`, `audit`); `base` is the page's path.
#[component]
pub fn ListNav(
    base: &'static str,
    export: &'static str,
    query: String,
    next_before: Option<i64>,
    scan_limited: bool,
) -> impl IntoView {
    let join = |extra: String| if query.is_empty() { extra } else { format!("{query}&{extra}") };
    let next = next_before.map(|id| {
        let href = format!("{base}?{}", join(format!("before={id}")));
        let text =
            if scan_limited { "No more matches in this stretch — search older →" } else { "Older →" };
        view! { <a href=href data-testid="next-page">{text}</a> }
    });
    let sep = if query.is_empty() { "" } else { "?" };
    view! {
        <p class="pager">
            {next}
            " "<a class="btn" href=format!("/api/export/{export}.csv{sep}{query}") data-testid="export-csv">"Export CSV"</a>
            " "<a class="btn" href=format!("/api/export/{export}.jsonl{sep}{query}") data-testid="export-json">"Export JSON"</a>
        </p>
    }
}
