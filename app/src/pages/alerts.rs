//! `/alerts`: alert history, newest first by the alert's start (or by arrival), with filters (status, name, severity, instance, free
//! text, time range) in a plain GET form, so they work before hydration, keyset paging, export.
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::alerts::{alert_counts, list_alerts};
use crate::components::badges::StatusBadge;
use crate::components::empty_state::EmptyState;
use crate::components::heal_button::HealOrWatch;
use crate::components::list_nav::{ListNav, TimeRangeFields};
use crate::components::live::use_live;
use crate::components::shell::{allows, use_user};
use crate::components::time::{format_ms, RelTime};
use crate::model::{AlertFilter, AlertSummary, DecisionReason, Role, RunStatus, Topic, Verification};

/// The alert history.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let text = |k: &str| q.get(k).filter(|v| !v.is_empty());
        AlertFilter {
            status: text("status"),
            alertname: text("alertname"),
            severity: text("severity"),
            instance: text("instance"),
            q: text("q"),
            decision: text("decision"),
            since: text("since"),
            from: text("from"),
            to: text("to"),
            sort: text("sort"),
            before: text("before").and_then(|v| v.parse().ok()),
        }
    });
    let news = use_live();
    let alerts =
        load(move || (filter.get(), news.track(&[Topic::Alerts, Topic::Runs])), |(f, _)| list_alerts(f));
    let counts = load(move || news.track(&[Topic::Alerts]), |_| alert_counts());
    let user = use_user();
    let value =
        move |f: fn(&AlertFilter) -> &Option<String>| move || f(&filter.read()).clone().unwrap_or_default();

    view! {
        <Title text="Alerts"/>
        <h1>"Alerts"</h1>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                counts.await.ok().map(|(firing, resolved)| view! {
                    <p class="status-counts" data-testid="alert-status-counts">
                        <a href="/alerts?status=firing">{format!("{firing} firing")}</a>" · "
                        <a href="/alerts?status=resolved">{format!("{resolved} resolved")}</a>
                    </p>
                })
            })}
        </Transition>
        <input type="checkbox" id="filters-toggle" class="fold-toggle"/>
        <label for="filters-toggle" class="btn btn-small fold-button" data-testid="filters-toggle">"Filters"</label>
        <form method="get" action="/alerts" class="filters foldable" data-testid="alert-filters">
            <label>"Status"
                <select name="status">
                    <option value="" selected=move || filter.read().status.is_none()>"any"</option>
                    <option value="firing" selected=move || filter.read().status.as_deref() == Some("firing")>"firing"</option>
                    <option value="resolved" selected=move || filter.read().status.as_deref() == Some("resolved")>"resolved"</option>
                </select>
            </label>
            <label>"Alert name"<input type="text" name="alertname" placeholder="any part, any case" prop:value=value(|f| &f.alertname)/></label>
            <label>"Severity"
                <select name="severity">
                    {[("", "any"), ("critical", "critical"), ("warning", "warning"), ("info", "info")].into_iter().map(|(v, text)| view! {
                        <option value=v selected=move || filter.read().severity.as_deref().unwrap_or_default() == v>{text}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"Instance"<input type="text" name="instance" placeholder="any part, any case" prop:value=value(|f| &f.instance)/></label>
            <label>"Text"<input type="search" name="q" maxlength="100" placeholder="name, instance, label…" prop:value=value(|f| &f.q)/></label>
            <label>"Decision"
                <select name="decision" data-testid="decision-filter">
                    {std::iter::once(("", "any")).chain(DecisionReason::ALL.iter().map(|&d| (d.as_str(), decision_label(d)))).map(|(v, text)| view! {
                        <option value=v selected=move || filter.read().decision.as_deref().unwrap_or_default() == v>{text}</option>
                    }).collect_view()}
                </select>
            </label>
            {move || {
                let f = filter.get();
                view! { <TimeRangeFields since=f.since from=f.from to=f.to/> }
            }}
            <label>"Newest first by"
                <select name="sort" data-testid="alert-sort">
                    <option value="">"alert start"</option>
                    <option value="received" selected=move || filter.read().sort.as_deref() == Some("received")>"arrival"</option>
                </select>
            </label>
            <button type="submit" class="btn">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let query = filter.read_untracked().to_query();
                let alerts = alerts.await;
                let can_act = allows(user, Role::Operator).await;
                match alerts {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(page) if page.rows.is_empty() && page.next_before.is_none() && query.is_empty() => view! { <NoAlerts/> }.into_any(),
                    Ok(page) => view! {
                        {page.rows.is_empty().then(|| view! { <p class="muted">"No alerts match."</p> })}
                        <AlertTable rows=page.rows can_act/>
                        <ListNav base="/alerts" export="alerts" query next_before=page.next_before scan_limited=page.scan_limited/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The episode's latest run, linked, and how it ended: "✓ healed in 5.4 s (run #6)".
#[component]
fn RunOutcome(
    run_id: Option<i64>,
    status: Option<RunStatus>,
    verification: Option<Verification>,
    time_to_heal_ms: Option<i64>,
) -> impl IntoView {
    let (id, status) = (run_id?, status?);
    let link =
        view! { <a href=format!("/runs/{id}") data-testid="alert-run-link">{format!("run #{id}")}</a> };
    Some(match (verification, time_to_heal_ms) {
        (Some(Verification::Verified), Some(ms)) => view! {
            <div class="run-outcome">"✓ healed in "{format_ms(ms)}" ("{link}")"</div>
        }
        .into_any(),
        (Some(v), _) if v != Verification::Skipped => view! {
            <div class="run-outcome"><StatusBadge status=v/>" "{link}</div>
        }
        .into_any(),
        _ => view! { <div class="run-outcome"><StatusBadge status=status/>" "{link}</div> }.into_any(),
    })
}

#[component]
fn AlertTable(rows: Vec<AlertSummary>, can_act: bool) -> impl IntoView {
    view! {
        <table class="table" data-testid="alerts-table">
            <thead><tr>
                <th>"Status"</th><th>"Alert"</th><th>"Severity"</th><th>"Instance"</th>
                <th>"Started"</th><th>"Deliveries"</th><th>"Source"</th><th>"Decision"</th><th></th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(move |a| {
                    let id = a.id;
                    let firing = a.status == "firing";
                    // Its run is still waiting or running: the run's link says so, no second heal.
                    let in_flight = a.run_id.filter(|_| a.run_status.is_some_and(RunStatus::is_active));
                    let truncated = (a.truncated_alerts > 0).then(|| view! {
                        <span class="badge badge-warn" title="Alertmanager left alerts out of this notification (max_alerts)">
                            {format!("+{} truncated", a.truncated_alerts)}
                        </span>
                    });
                    view! {
                        <tr>
                            <td><StatusBadge status=a.status.clone()/></td>
                            <td><a href=format!("/alerts/{id}") data-testid="alert-link"><strong>{a.alertname}</strong></a>" "{truncated}</td>
                            <td>{a.severity.unwrap_or_default()}</td>
                            <td>{a.instance.unwrap_or_default()}</td>
                            <td><RelTime at=a.starts_at/></td>
                            <td>{a.deliveries}</td>
                            <td>{a.source}</td>
                            <td data-testid="alert-decision">{a.decision.map(|d| decision_text(&d))}<RunOutcome run_id=a.run_id status=a.run_status verification=a.run_verification time_to_heal_ms=a.run_time_to_heal_ms/></td>
                            <td>{(firing && can_act).then(|| view! { <HealOrWatch alert_id=id run_in_flight=in_flight/> })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn NoAlerts() -> impl IntoView {
    view! {
        <EmptyState title="No alerts yet">
            <p>"Point Alertmanager at "<code>"POST /webhook"</code>" with basic auth, or send one by hand:"</p>
            <pre>"curl -u alertmanager:$(cat .selfheal/webhook-password) -H 'Content-Type: application/json' \\\n  --data @server/tests/fixtures/alertmanager/alertmanager-webhook-firing.json \\\n  http://127.0.0.1:5000/webhook"</pre>
        </EmptyState>
    }
}

/// A decision reason in words, as the list shows it and the filter offers it.
fn decision_label(d: DecisionReason) -> &'static str {
    match d {
        DecisionReason::Enqueued => "heal queued",
        DecisionReason::Resolved => "resolved before a decision",
        DecisionReason::NoRule => "no rule matches",
        DecisionReason::InvalidLabels => "✗ labels refused",
        DecisionReason::RunInProgress => "→ covered by another run",
        DecisionReason::Cooldown => "in cooldown",
        DecisionReason::BreakerOpen => "⏸ breaker open",
        DecisionReason::Shadow => "shadow (recorded only)",
        DecisionReason::Paused => "⏸ healing paused",
        DecisionReason::GuardFailed => "⛔ a guard failed",
        DecisionReason::GuardUnknown => "⛔ a guard went unanswered",
        DecisionReason::BlastRadius => "⏸ blast radius: awaiting approval",
        DecisionReason::InMaintenance => "🛠 in a maintenance window",
    }
}

/// A stored decision reason in words (an unknown one, from a newer version, as it is).
fn decision_text(reason: &str) -> String {
    DecisionReason::ALL
        .iter()
        .find(|d| d.as_str() == reason)
        .map_or_else(|| reason.replace('_', " "), |&d| decision_label(d).to_owned())
}
