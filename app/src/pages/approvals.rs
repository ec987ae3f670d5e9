//! `/approvals`: runs waiting for an operator's yes or no, oldest first, with approve and
//! reject (and a comment) for operators.
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::heal::{list_approvals, ApproveRun};
use crate::components::approval_form::ApprovalForm;
use crate::components::empty_state::EmptyState;
use crate::components::live::use_live;
use crate::components::shell::{allows, use_user};
use crate::components::time::RelTime;
use crate::model::{Role, Topic};

/// The approvals queue.
#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let approve = ServerAction::<ApproveRun>::new();
    let news = use_live();
    let pending =
        load(move || (approve.version().get(), news.track(&[Topic::Approvals])), |_| list_approvals());
    let user = use_user();
    view! {
        <Title text="Approvals"/>
        <h1>"Awaiting approval"</h1>
        <p class="muted">"Runs of rules in approval mode wait here until an operator decides; an approved run is queued at once. A pending approval expires after the configured time, or when its alert resolves."</p>
        {move || approve.value().get().and_then(Result::err).map(|e| view! { <p class="error" data-testid="approval-error">{e.to_string()}</p> })}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let pending = pending.await;
                let can_act = allows(user, Role::Operator).await;
                match pending {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title="Nothing awaiting approval">
                            <p>"Rules with "<code>"mode = \"approval\""</code>" park their runs here instead of running them."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(rows) => view! {
                        <table class="table" data-testid="approvals-table">
                            <thead><tr><th>"Run"</th><th>"Alert"</th><th>"Rule"</th><th>"Target"</th><th>"Playbook"</th><th>"Requested"</th><th>"Expires"</th><th></th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|p| {
                                    let run_id = p.run_id;
                                    let alert = match (p.alert_id, p.alertname) {
                                        (Some(id), name) => view! {
                                            <a href=format!("/alerts/{id}")>{name.unwrap_or_else(|| format!("alert #{id}"))}</a>
                                        }.into_any(),
                                        (None, _) => view! { <span class="muted">"—"</span> }.into_any(),
                                    };
                                    view! {
                                        <tr>
                                            <td><a href=format!("/runs/{run_id}")>{format!("#{run_id}")}</a></td>
                                            <td>{alert}</td>
                                            <td class="nowrap">{p.rule}</td>
                                            <td><code>{p.target}</code></td>
                                            <td class="nowrap"><code>{p.playbook}</code></td>
                                            <td><RelTime at=p.requested_at/><br/><span class="muted">{format!("by {}", p.requested_by)}</span></td>
                                            <td data-testid="approval-expires">{(!p.expires_at.is_empty()).then(|| view! { <RelTime at=p.expires_at/> })}</td>
                                            <td>{can_act.then(|| view! { <ApprovalForm run_id approve/> })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
