//! `/audit`: who did what, newest first, filtered by actor, action and time (a plain GET
//! form), keyset paging and export.
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::audit::list_audit_events;
use crate::components::empty_state::EmptyState;
use crate::components::list_nav::{ListNav, TimeRangeFields};
use crate::components::time::RelTime;
use crate::model::{AuditEvent, AuditFilter};

/// The audit log.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let text = |k: &str| q.get(k).filter(|v| !v.is_empty());
        AuditFilter {
            actor: text("actor"),
            action: text("action"),
            since: text("since"),
            from: text("from"),
            to: text("to"),
            before: text("before").and_then(|v| v.parse().ok()),
        }
    });
    let events = load(move || filter.get(), list_audit_events);
    view! {
        <Title text="Audit"/>
        <h1>"Audit log"</h1>
        {move || {
            let f = filter.get();
            view! {
                <input type="checkbox" id="filters-toggle" class="fold-toggle"/>
                <label for="filters-toggle" class="btn btn-small fold-button" data-testid="filters-toggle">"Filters"</label>
                <form method="get" action="/audit" class="filters foldable" data-testid="audit-filters">
                    <label>"Who"<input type="text" name="actor" value=f.actor.unwrap_or_default()/></label>
                    <label>"Action"<input type="text" name="action" placeholder="e.g. auth.login" value=f.action.unwrap_or_default()/></label>
                    <TimeRangeFields since=f.since from=f.from to=f.to/>
                    <button type="submit" class="btn">"Filter"</button>
                </form>
            }
        }}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let query = filter.read_untracked().to_query();
                match events.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(page) if page.rows.is_empty() && page.next_before.is_none() && query.is_empty() => view! {
                        <EmptyState title="Nothing audited yet">
                            <p>"Logins, heals and changes will be listed here."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(page) => view! {
                        {page.rows.is_empty().then(|| view! { <p class="muted">"No entries match."</p> })}
                        <AuditTable rows=page.rows/>
                        <ListNav base="/audit" export="audit" query next_before=page.next_before scan_limited=page.scan_limited/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditEvent>) -> impl IntoView {
    view! {
        <table class="table" data-testid="audit-table">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Detail"</th><th>"From"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|e| {
                    let target = e.target.unwrap_or_default();
                    let target = match target_href(&target) {
                        Some(href) => view! { <a href=href data-testid="audit-target-link">{target}</a> }.into_any(),
                        None => target.into_any(),
                    };
                    let detail = e.detail.unwrap_or_default();
                    view! {
                        <tr>
                            <td><RelTime at=e.at/></td>
                            <td>{e.actor}</td>
                            <td><code>{e.action}</code></td>
                            <td>{target}</td>
                            <td class="audit-detail" title=detail.clone()>{detail.clone()}</td>
                            <td>{e.source.unwrap_or_default()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The page an audit target names: `run #12` → the run, `alert #5` → the alert.
fn target_href(target: &str) -> Option<String> {
    let (kind, id) = target.split_once(" #")?;
    let id: i64 = id.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    match kind {
        "run" => Some(format!("/runs/{id}")),
        "alert" => Some(format!("/alerts/{id}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::target_href;

    #[test]
    fn runs_and_alerts_are_linked_and_nothing_else() {
        assert_eq!(target_href("run #12").as_deref(), Some("/runs/12"));
        assert_eq!(target_href("alert #5").as_deref(), Some("/alerts/5"));
        assert_eq!(target_href("user #3"), None);
        assert_eq!(target_href("nginx-down on web1"), None);
        assert_eq!(target_href("run #"), None);
        assert_eq!(target_href("run #x1"), None);
    }
}
