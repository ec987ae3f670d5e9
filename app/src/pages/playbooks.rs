//! `/playbooks`: the playbook catalog — each rule's playbook, and for operators a form to run it
//! now on a named target (dry run or not), confirmed in a disclosure; the server checks the role,
//! validates the target like an alert's labels, and records who did it.
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::catalog::{playbook_catalog, RunPlaybook};
use crate::components::empty_state::EmptyState;
use crate::components::shell::{allows, use_user};
use crate::model::{CatalogEntry, Role};

/// The catalog.
#[component]
pub fn PlaybooksPage() -> impl IntoView {
    let entries = load(|| (), |_| playbook_catalog());
    let user = use_user();
    view! {
        <Title text="Playbooks"/>
        <h1>"Playbooks"</h1>
        <p class="muted">"The playbooks of the loaded rules. Running one by hand skips the rule's cooldown and breaker, never its one-run-per-target lock."</p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let entries = entries.await;
                let can_act = allows(user, Role::Operator).await;
                match entries {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No rules loaded">
                            <p>"Add a "<code>"[[rules]]"</code>" entry to selfheal.toml (see selfheal.example.toml) and restart; its playbook shows up here."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! { <Catalog list can_act/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Catalog(list: Vec<CatalogEntry>, can_act: bool) -> impl IntoView {
    view! {
        <table class="table" data-testid="catalog">
            <thead><tr><th>"Rule"</th><th>"Playbook"</th><th>"Mode on alerts"</th><th>"Targets by"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|e| {
                    let entry = e.clone();
                    view! {
                        <tr>
                            <td>{e.rule}</td>
                            <td><code>{e.playbook}</code></td>
                            <td>{e.mode}</td>
                            <td><code>{e.target_label}</code>{e.limit_label.map(|l| view! { ", --limit from "<code>{l}</code> })}</td>
                            <td>{can_act.then(|| view! { <RunForm entry/> })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Run now: target, optional --limit host, dry run, confirm.
#[component]
fn RunForm(entry: CatalogEntry) -> impl IntoView {
    let action = ServerAction::<RunPlaybook>::new();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        <details class="heal-now" data-testid="run-playbook">
            <summary class="btn btn-small">"Run now…"</summary>
            <ActionForm action=action>
                <input type="hidden" name="rule" value=entry.rule.clone()/>
                {if entry.any_target {
                    // An admin may name any target (still checked); the list helps.
                    let list = format!("targets-{}", entry.rule);
                    view! {
                        <input type="text" name="target" required list=list.clone() placeholder=entry.target_label.clone() aria-label="Target"/>
                        <datalist id=list>{entry.targets.iter().map(|t| view! { <option value=t.clone()/> }).collect_view()}</datalist>
                    }.into_any()
                } else {
                    view! {
                        <select name="target" required aria-label="Target" data-testid="run-target">
                            {std::iter::once(String::new()).chain(entry.targets.iter().cloned()).map(|t| {
                                let text = if t.is_empty() { format!("pick a {}", entry.target_label) } else { t.clone() };
                                view! { <option value=t>{text}</option> }
                            }).collect_view()}
                        </select>
                    }.into_any()
                }}
                {entry.limit_label.map(|_| view! {
                    <input type="text" name="limit" placeholder="--limit host (default: the target)" aria-label="Limit host"/>
                })}
                <label class="inline"><input type="checkbox" name="dry_run" value="true"/>" dry run (--check)"</label>
                <button type="submit" class="btn btn-primary btn-small" data-testid="run-playbook-confirm">"Run the playbook now"</button>
            </ActionForm>
            {move || error().map(|e| view! { <p class="error">{e}</p> })}
        </details>
    }
}
