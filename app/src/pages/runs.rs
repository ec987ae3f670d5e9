//! `/runs`: heal runs, newest first, filtered by status, rule or playbook, target, trigger and
//! time (a plain GET form: the filter lives in the URL), keyset paging and export.
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::runs::list_runs;
use crate::components::badges::StatusBadge;
use crate::components::empty_state::EmptyState;
use crate::components::list_nav::{ListNav, TimeRangeFields};
use crate::components::live::use_live;
use crate::components::time::{format_ms, RelTime};
use crate::model::{RunFilter, RunMode, RunStatus, RunSummary, Topic, Trigger};

/// How the filter shows a trigger.
fn trigger_label(t: Trigger) -> &'static str {
    match t {
        Trigger::Engine => "engine",
        Trigger::HealNow => "heal now",
        Trigger::Replay => "replay",
    }
}

/// The run list.
#[component]
pub fn RunsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let text = |k: &str| q.get(k).filter(|v| !v.is_empty());
        RunFilter {
            status: text("status"),
            rule: text("rule"),
            target: text("target"),
            trigger: text("trigger"),
            outcome: text("outcome"),
            since: text("since"),
            from: text("from"),
            to: text("to"),
            before: text("before").and_then(|v| v.parse().ok()),
        }
    });
    let news = use_live();
    let runs = load(move || (filter.get(), news.track(&[Topic::Runs])), |(f, _)| list_runs(f));
    view! {
        <Title text="Runs"/>
        <h1>"Runs"</h1>
        {move || {
            let f = filter.get();
            let options = |all: Vec<(&'static str, &'static str)>, current: Option<String>| {
                let any = view! { <option value="">"any"</option> };
                let rest = all.into_iter().map(move |(value, text)| {
                    let selected = current.as_deref() == Some(value);
                    view! { <option value=value selected=selected>{text}</option> }
                }).collect_view();
                (any, rest)
            };
            view! {
                <input type="checkbox" id="filters-toggle" class="fold-toggle"/>
                <label for="filters-toggle" class="btn btn-small fold-button" data-testid="filters-toggle">"Filters"</label>
                <form method="get" action="/runs" class="filters foldable" data-testid="run-filters">
                    <label>"Status"<select name="status">{options(RunStatus::ALL.iter().map(|s| (s.as_str(), s.as_str())).collect(), f.status)}</select></label>
                    <label>"Rule or playbook"<input type="text" name="rule" value=f.rule.unwrap_or_default()/></label>
                    <label>"Target"<input type="text" name="target" value=f.target.unwrap_or_default()/></label>
                    <label>"Trigger"<select name="trigger">{options(Trigger::ALL.iter().map(|&t| (t.as_str(), trigger_label(t))).collect(), f.trigger)}</select></label>
                <label>"Outcome"<select name="outcome" data-testid="outcome-filter">{options(vec![("attention", "failed or not fixed"), ("verified", "verified")], f.outcome)}</select></label>
                    <TimeRangeFields since=f.since from=f.from to=f.to/>
                    <button type="submit" class="btn">"Filter"</button>
                </form>
            }
        }}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let query = filter.read_untracked().to_query();
                match runs.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(page) if page.rows.is_empty() && page.next_before.is_none() && query.is_empty() => view! {
                        <EmptyState title="No heal runs yet">
                            <p>"A run starts when a firing alert matches a rule in "<code>"selfheal.toml"</code>"."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(page) => view! {
                        {page.rows.is_empty().then(|| view! { <p class="muted">"No runs match."</p> })}
                        <RunTable rows=page.rows/>
                        <ListNav base="/runs" export="runs" query next_before=page.next_before scan_limited=page.scan_limited/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RunTable(rows: Vec<RunSummary>) -> impl IntoView {
    view! {
        <table class="table" data-testid="runs-table">
            <thead><tr>
                <th>"Run"</th><th>"Status"</th><th>"Verification"</th><th>"Alert"</th><th>"Rule"</th><th>"Target"</th>
                <th>"Playbook"</th><th>"By"</th><th>"Queued"</th><th>"Time to heal"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td><a href=format!("/runs/{}", r.id)>{format!("#{}", r.id)}</a></td>
                        <td><StatusBadge status=r.status/></td>
                        <td>{r.verification.map(|v| view! { <StatusBadge status=v/> })}</td>
                        <td>{r.alert_id.map(|a| view! { <a href=format!("/alerts/{a}") data-testid="run-alert-link">{format!("#{a}")}</a> })}</td>
                        <td>{r.rule}</td>
                        <td><code>{r.target}</code></td>
                        <td><code>{r.playbook}</code>{(r.mode == RunMode::DryRun).then_some(" (dry run)")}</td>
                        <td>{r.requested_by}</td>
                        <td><RelTime at=r.created_at/></td>
                        <td>{r.time_to_heal_ms.map(format_ms)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
