//! `/`: what is happening now — firing alerts, runs in flight, approvals, the last 24 hours,
//! and open circuit breakers (with a reset for operators).
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::heal::{get_overview, ResetBreaker};
use crate::components::breaker_reset::BreakerReset;
use crate::components::empty_state::EmptyState;
use crate::components::live::use_live;
use crate::components::time::format_ms;
use crate::model::{OpenBreaker, Overview, Topic};

/// The overview.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let reset = ServerAction::<ResetBreaker>::new();
    let news = use_live();
    let overview = Resource::new(
        move || {
            (
                reset.version().get(),
                news.track(&[Topic::Alerts, Topic::Runs, Topic::Approvals, Topic::Breakers]),
            )
        },
        |_| get_overview(),
    );
    view! {
        <Title text="Overview"/>
        <h1>"Overview"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(o) => view! {
                        <Figures o=o.clone()/>
                        // Server-rendered SVG (see components::chart); our own markup, escaped there.
                        <div class="charts">
                            <div inner_html=o.heals_chart.clone()></div>
                            <div inner_html=o.time_to_heal_chart.clone()></div>
                        </div>
                        <Breakers open=o.open_breakers reset/>
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
    view! {
        <div class="cards" data-testid="overview">
            <a class="card stat" href="/alerts?status=firing"><span class="n">{o.firing_alerts}</span><span>"firing alerts"</span></a>
            <a class="card stat" href="/runs"><span class="n">{o.runs_in_flight}</span><span>"runs in flight"</span></a>
            <a class="card stat" href="/approvals" data-testid="awaiting-approval"><span class="n">{o.awaiting_approval}</span><span>"awaiting approval"</span></a>
            <div class="card stat"><span class="n">{o.runs_24h}</span><span>"heals in 24 h"</span></div>
            <div class="card stat" data-testid="verified-rate" title="Of the heals the rules started in the last 24 h that have ended (playbook finished, verdict in): verified"><span class="n">{rate(o.verified_24h, o.concluded_24h)}</span><span>"verified (24 h)"</span></div>
            <div class="card stat"><span class="n">{o.failed_24h}</span><span>"failed or not fixed (24 h)"</span></div>
            <div class="card stat" data-testid="tth-p50"><span class="n">{o.tth_p50_ms.map_or("—".to_owned(), format_ms)}</span><span>"time to heal, median"</span></div>
            <div class="card stat" data-testid="tth-p95"><span class="n">{o.tth_p95_ms.map_or("—".to_owned(), format_ms)}</span><span>"time to heal, p95"</span></div>
        </div>
        {quiet.then(|| view! {
            <EmptyState title="No alerts received yet">
                <p>"Point Alertmanager's webhook receiver at "<code>"http://<this host>:5000/webhook"</code>
                   " with basic auth; firing alerts then show up here, with what selfheal did about them."</p>
            </EmptyState>
        })}
    }
}

#[component]
fn Breakers(open: Vec<OpenBreaker>, reset: ServerAction<ResetBreaker>) -> impl IntoView {
    if open.is_empty() {
        return view! { <p class="muted" data-testid="breakers">"All circuit breakers are closed."</p> }
            .into_any();
    }
    view! {
        <h2>"Open circuit breakers"</h2>
        <table class="table" data-testid="breakers">
            <thead><tr><th>"Rule"</th><th>"Target"</th><th>"Attempts in window"</th><th></th></tr></thead>
            <tbody>
                {open.into_iter().map(|b| {
                    let (rule, target) = (b.rule.clone(), b.target.clone());
                    view! {
                        <tr>
                            <td>{b.rule}</td>
                            <td><code>{b.target}</code></td>
                            <td>{format!("{} of {}", b.attempts, b.max_attempts)}</td>
                            <td><BreakerReset rule target reset/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
