//! `/alerts/:id`: one alert episode — labels, annotations, its timeline from receipt to
//! resolution, its runs, and the actions an operator may take (Heal now, Replay).
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::alerts::get_alert;
use crate::api::heal::ReplayAlert;
use crate::components::badges::StatusBadge;
use crate::components::heal_button::HealOrWatch;
use crate::components::live::use_live;
use crate::components::shell::{allows, use_user};
use crate::components::silence_button::SilenceButton;
use crate::components::time::RelTime;
use crate::model::{AlertDetail, Role, RunStatus, TimelineEntry, Topic};

/// The alert detail page.
#[component]
pub fn AlertPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let news = use_live();
    let detail = load(move || (id(), news.track(&[Topic::Alerts, Topic::Runs])), |(id, _)| get_alert(id));
    let user = use_user();
    view! {
        <Title text=move || format!("Alert #{}", id())/>
        <p><a href="/alerts">"← Alerts"</a></p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let detail = detail.await;
                let can_act = allows(user, Role::Operator).await;
                match detail {
                    Err(e) => view! { <p class="error" data-testid="alert-error">{e.to_string()}</p> }.into_any(),
                    Ok(d) => view! { <AlertView d can_act/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AlertView(d: AlertDetail, can_act: bool) -> impl IntoView {
    let a = d.alert;
    let id = a.id;
    let firing = a.status == "firing";
    let in_flight = a.run_id.filter(|_| a.run_status.is_some_and(RunStatus::is_active));
    let replay = ServerAction::<ReplayAlert>::new();
    let pairs = |rows: Vec<(String, String)>| {
        rows.into_iter().map(|(k, v)| view! { <tr><th>{k}</th><td>{v}</td></tr> }).collect_view()
    };
    view! {
        <h1 data-testid="alert-title">{a.alertname.clone()}" "<StatusBadge status=a.status.clone()/></h1>
        <p class="muted">
            {a.instance.clone().unwrap_or_default()}
            {a.severity.clone().map(|s| format!(" · severity {s}"))}
            " · started "<RelTime at=a.starts_at.clone()/>
            " · fingerprint "<code>{a.fingerprint.clone()}</code>
        </p>
        <div class="actions" data-testid="alert-actions">
            {(firing && can_act).then(|| view! { <HealOrWatch alert_id=id run_in_flight=in_flight/> })}
            <ActionForm action=replay>
                <input type="hidden" name="alert_id" value=id.to_string()/>
                <button type="submit" class="btn btn-small" title="What today's rules would decide for this alert (nothing runs)">"Replay (what would happen now?)"</button>
            </ActionForm>
            {d.generator_url.clone().map(|url| match crate::model::http_link(&url) {
                Some(_) => view! { <a class="btn btn-small" href=url rel="noopener">"Prometheus graph"</a> }.into_any(),
                None => view! { <span class="muted" title="Not an http(s) URL: shown, never linked">{url}</span> }.into_any(),
            })}
            {d.last_notification_id.map(|n| view! {
                <a class="btn btn-small" href=format!("/api/notifications/{n}/raw") data-testid="raw-notification"
                    title="The webhook notification that last carried this alert, byte for byte">"Raw notification"</a>
            })}
            {(firing && can_act).then(|| view! { <SilenceButton alert_id=id alertmanager=d.external_url.clone()/> })}
        </div>
        {move || replay.value().get().map(|r| match r {
            Ok(o) => view! { <p class="notice" data-testid="replay-result">{format!("Today's rules: {} — {}", o.reason.replace('_', " "), o.detail)}</p> }.into_any(),
            Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
        })}
        <div class="columns">
            <section>
                <h2>"Labels"</h2>
                <table class="table kv" data-testid="alert-labels"><tbody>{pairs(d.labels)}</tbody></table>
                <h2>"Annotations"</h2>
                <table class="table kv"><tbody>{pairs(d.annotations)}</tbody></table>
                <p class="muted">{format!("Receiver {} · group {}", d.receiver.unwrap_or_default(), d.group_key.unwrap_or_default())}</p>
            </section>
            <section>
                <h2>"Timeline"</h2>
                <ol class="timeline" data-testid="alert-timeline">
                    {d.timeline.into_iter().map(|e| view! { <TimelineItem e/> }).collect_view()}
                </ol>
            </section>
        </div>
    }
}

#[component]
fn TimelineItem(e: TimelineEntry) -> impl IntoView {
    let text = match e.run_id {
        Some(run) => view! { <a href=format!("/runs/{run}")>{e.text}</a> }.into_any(),
        None => view! { <span>{e.text}</span> }.into_any(),
    };
    view! {
        <li class=format!("timeline-{}", e.kind)>
            <time datetime=e.at.clone()>{e.at.replace('T', " ")}</time>" "
            <span class="timeline-kind">{e.kind.replace('_', " ")}</span>" "{text}
        </li>
    }
}
