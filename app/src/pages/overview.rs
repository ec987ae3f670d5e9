//! `/`: what needs a person first (approvals, failed heals, breakers open or about to open,
//! alerts no rule handles; an incident marked), then what is happening now and the last 24
//! hours, every figure a link to the list behind it.
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::heal::get_overview;
use crate::components::breaker_reset::BreakerReset;
use crate::components::empty_state::EmptyState;
use crate::components::live::use_live;
use crate::components::shell::{allows, use_user};
use crate::components::time::format_ms;
use crate::model::{OpenBreaker, Overview, Role, Topic};

/// The overview.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let news = use_live();
    let overview = load(
        move || news.track(&[Topic::Alerts, Topic::Runs, Topic::Approvals, Topic::Breakers]),
        |_| get_overview(),
    );
    let user = use_user();
    view! {
        <Title text="Overview"/>
        <h1>"Overview"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let overview = overview.await;
                let can_act = allows(user, Role::Operator).await;
                match overview {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(o) => view! {
                        {(o.needs_you() > 0).then(|| view! { <Title text=format!("({}) Overview", o.needs_you())/> })}
                        <NeedsYou o=o.clone() can_act/>
                        <Figures o=o.clone()/>
                        // Server-rendered SVG (see components::chart); our own markup, escaped there.
                        <div class="charts">
                            <div inner_html=o.heals_chart.clone()></div>
                            <div inner_html=o.time_to_heal_chart.clone()></div>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Figures(o: Overview) -> impl IntoView {
    let rate = |part: i64, all: i64| {
        if all == 0 {
            "—".to_owned()
        } else {
            format!("{:.0}%", 100.0 * part as f64 / all as f64)
        }
    };
    let quiet = o.firing_alerts == 0 && o.runs_24h == 0;
    let tone = |n: i64| if n > 0 { "card stat stat-hot" } else { "card stat" };
    let day = "since=24h";
    view! {
        <div class="cards" data-testid="overview">
            <a class=tone(o.firing_alerts) href="/alerts?status=firing" data-testid="firing"><span class="n">{o.firing_alerts}</span><span>"firing alerts"</span></a>
            <a class=tone(o.runs_in_flight) href="/runs?status=running"><span class="n">{o.runs_in_flight}</span><span>"runs in flight"</span></a>
            <a class=tone(o.awaiting_approval) href="/approvals" data-testid="awaiting-approval"><span class="n">{o.awaiting_approval}</span><span>"awaiting approval"</span></a>
            <a class="card stat" href=format!("/runs?{day}")><span class="n">{o.runs_24h}</span><span>"heals in 24 h"</span></a>
            <a class="card stat" href=format!("/runs?outcome=verified&{day}") data-testid="verified-rate" title="Of the heals the rules started in the last 24 h that have ended (playbook finished, verdict in): verified"><span class="n">{rate(o.verified_24h, o.concluded_24h)}</span><span>"verified (24 h)"</span></a>
            <a class=tone(o.failed_24h) href=format!("/runs?outcome=attention&{day}") data-testid="failed"><span class="n">{o.failed_24h}</span><span>"failed or not fixed (24 h)"</span></a>
            <a class="card stat" href=format!("/runs?outcome=verified&{day}") data-testid="tth-p50"><span class="n">{o.tth_p50_ms.map_or("—".to_owned(), format_ms)}</span><span>"time to heal, median"</span></a>
            <a class="card stat" href=format!("/runs?outcome=verified&{day}") data-testid="tth-p95"><span class="n">{o.tth_p95_ms.map_or("—".to_owned(), format_ms)}</span><span>"time to heal, p95"</span></a>
        </div>
        {quiet.then(|| view! {
            <EmptyState title="No alerts received yet">
                <p>"Point Alertmanager's webhook receiver at "<code>"http://<this host>:5000/webhook"</code>
                   " with basic auth; firing alerts then show up here, with what selfheal did about them."</p>
            </EmptyState>
        })}
    }
}

/// What waits for a person, first on the page: approvals, failed or unfixed heals, open
/// breakers and those one attempt from opening, firing alerts no rule handles. Each links to
/// the list that shows them; an incident (something firing or healing) is marked.
#[component]
fn NeedsYou(o: Overview, can_act: bool) -> impl IntoView {
    let incident = o.incident();
    let plural = |n: i64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let state = if incident {
        format!("Incident: {} firing, {} being healed", o.firing_alerts, o.runs_in_flight)
    } else {
        "All quiet: nothing firing, nothing being healed.".to_owned()
    };
    let nothing = o.needs_you() == 0 && o.nearly_open_breakers.is_empty();
    view! {
        <section class=if incident { "needs-you card incident" } else { "needs-you card" } data-testid="needs-you">
            <p class="incident-state" data-testid="incident-state">{state}</p>
            <h2>"Needs you"</h2>
            {nothing.then(|| view! { <p class="muted">"Nothing: no approvals waiting, no failed heals in 24 h, every breaker closed, every firing alert has a rule."</p> })}
            <ul class="attention">
                {(o.awaiting_approval > 0).then(|| view! {
                    <li><a href="/approvals">{format!("{} {} approval", o.awaiting_approval, plural(o.awaiting_approval, "run awaits", "runs await"))}</a></li>
                })}
                {(o.failed_24h > 0).then(|| view! {
                    <li><a href="/runs?outcome=attention&since=24h">{format!("{} {} or did not fix it (24 h)", o.failed_24h, plural(o.failed_24h, "heal failed", "heals failed"))}</a></li>
                })}
                {(o.firing_no_rule > 0).then(|| view! {
                    <li><a href="/alerts?status=firing&decision=no_rule">{format!("{} firing {} no rule handles", o.firing_no_rule, plural(o.firing_no_rule, "alert", "alerts"))}</a></li>
                })}
                {o.nearly_open_breakers.iter().map(|b| view! {
                    <li><a href="/rules">{format!("{} on {}: {} of {} attempts, one more opens the breaker", b.rule, b.target, b.attempts, b.max_attempts)}</a></li>
                }).collect_view()}
            </ul>
            <Breakers open=o.open_breakers can_act/>
        </section>
    }
}

#[component]
fn Breakers(open: Vec<OpenBreaker>, can_act: bool) -> impl IntoView {
    if open.is_empty() {
        return ().into_any();
    }
    view! {
        <h3>"Open circuit breakers"</h3>
        <table class="table" data-testid="breakers">
            <thead><tr><th>"Rule"</th><th>"Target"</th><th>"Attempts in window"</th><th></th></tr></thead>
            <tbody>
                {open.into_iter().map(|b| {
                    let (rule, target) = (b.rule.clone(), b.target.clone());
                    view! {
                        <tr>
                            <td><a href="/rules">{b.rule}</a></td>
                            <td><code>{b.target}</code></td>
                            <td>{format!("{} of {}", b.attempts, b.max_attempts)}</td>
                            <td><BreakerReset rule target can_act/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
