//! `/alerts`: alert history, newest first, with status and name filters (a plain GET form, so
//! it works before hydration) and keyset paging.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::alerts::{list_alerts, ALERT_PAGE_SIZE};
use crate::components::badges::StatusBadge;
use crate::components::empty_state::EmptyState;
use crate::components::heal_button::HealNowButton;
use crate::components::shell::can_act;
use crate::model::{AlertFilter, AlertSummary};

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
            before: text("before").and_then(|v| v.parse().ok()),
        }
    });
    let alerts = Resource::new(move || filter.get(), list_alerts);

    view! {
        <Title text="Alerts"/>
        <h1>"Alerts"</h1>
        <form method="get" action="/alerts" class="filters">
            <label>"Status"
                <select name="status">
                    <option value="" selected=move || filter.read().status.is_none()>"any"</option>
                    <option value="firing" selected=move || filter.read().status.as_deref() == Some("firing")>"firing"</option>
                    <option value="resolved" selected=move || filter.read().status.as_deref() == Some("resolved")>"resolved"</option>
                </select>
            </label>
            <label>"Alert name"
                <input type="text" name="alertname" prop:value=move || filter.read().alertname.clone().unwrap_or_default()/>
            </label>
            <button type="submit" class="btn">"Filter"</button>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match alerts.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! { <NoAlerts/> }.into_any(),
                    Ok(rows) => view! { <AlertTable rows filter=filter.get_untracked()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AlertTable(rows: Vec<AlertSummary>, filter: AlertFilter) -> impl IntoView {
    let can_act = can_act();
    let next = (rows.len() as i64 == ALERT_PAGE_SIZE).then(|| {
        let last = rows.last().map(|r| r.id).unwrap_or_default();
        format!(
            "/alerts?status={}&alertname={}&before={last}",
            filter.status.unwrap_or_default(),
            filter.alertname.unwrap_or_default()
        )
    });
    view! {
        <table class="table" data-testid="alerts-table">
            <thead><tr>
                <th>"Status"</th><th>"Alert"</th><th>"Severity"</th><th>"Instance"</th>
                <th>"Started (UTC)"</th><th>"Deliveries"</th><th>"Source"</th><th>"Decision"</th><th></th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(move |a| {
                    let id = a.id;
                    let firing = a.status == "firing";
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
                            <td><time datetime=a.starts_at.clone()>{a.starts_at.replace('T', " ")}</time></td>
                            <td>{a.deliveries}</td>
                            <td>{a.source}</td>
                            <td>{a.decision.map(|d| d.replace('_', " "))}</td>
                            <td>{move || (firing && can_act.get()).then(|| view! { <HealNowButton alert_id=id/> })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {next.map(|href| view! { <p class="pager"><a href=href>"Older alerts →"</a></p> })}
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
