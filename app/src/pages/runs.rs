//! `/runs`: heal runs, newest first.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::runs::list_runs;
use crate::components::badges::StatusBadge;
use crate::components::empty_state::EmptyState;

/// The run list.
#[component]
pub fn RunsPage() -> impl IntoView {
    let runs = Resource::new(|| (), |_| list_runs(None));
    view! {
        <Title text="Runs"/>
        <h1>"Runs"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match runs.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title="No heal runs yet">
                            <p>"A run starts when a firing alert matches a rule in "<code>"selfheal.toml"</code>"."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(rows) => view! {
                        <table class="table" data-testid="runs-table">
                            <thead><tr>
                                <th>"Run"</th><th>"Status"</th><th>"Verification"</th><th>"Rule"</th><th>"Target"</th>
                                <th>"Playbook"</th><th>"By"</th><th>"Queued (UTC)"</th><th>"Time to heal"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr>
                                        <td><a href=format!("/runs/{}", r.id)>{format!("#{}", r.id)}</a></td>
                                        <td><StatusBadge status=r.status.clone()/></td>
                                        <td>{r.verification.clone().map(|v| view! { <StatusBadge status=v/> })}</td>
                                        <td>{r.rule}</td>
                                        <td><code>{r.target}</code></td>
                                        <td><code>{r.playbook}</code>{(r.mode == "dry-run").then_some(" (dry run)")}</td>
                                        <td>{r.requested_by}</td>
                                        <td>{r.created_at.replace('T', " ")}</td>
                                        <td>{r.time_to_heal_ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0))}</td>
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
