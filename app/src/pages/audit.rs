//! `/audit`: who did what, newest first.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::audit::list_audit_events;
use crate::components::empty_state::EmptyState;

/// The audit log.
#[component]
pub fn AuditPage() -> impl IntoView {
    let events = Resource::new(|| (), |_| list_audit_events(None));
    view! {
        <Title text="Audit"/>
        <h1>"Audit log"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title="Nothing audited yet">
                            <p>"Logins, heals and changes will be listed here."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(rows) => view! {
                        <table class="table" data-testid="audit-table">
                            <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"From"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|e| view! {
                                    <tr>
                                        <td><time datetime=e.at.clone()>{e.at.replace('T', " ")}</time></td>
                                        <td>{e.actor}</td>
                                        <td><code>{e.action}</code></td>
                                        <td>{e.target.unwrap_or_default()}</td>
                                        <td>{e.source.unwrap_or_default()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
