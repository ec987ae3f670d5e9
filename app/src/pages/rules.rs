//! `/rules`: the rules selfheal loaded at start — what each matches, runs and how — and each
//! target's circuit breaker, with a reset for operators.
use crate::components::load::load;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::rules::list_rules;
use crate::components::breaker_reset::BreakerReset;
use crate::components::empty_state::EmptyState;
use crate::components::kill_switch::{PauseForm, ReloadRulesButton};
use crate::components::live::use_live;
use crate::components::shell::{allows, use_user};
use crate::components::time::RelTime;
use crate::model::{BreakerState, Role, RuleView, Topic};

/// Every rule as a card, in the order the engine tries them.
#[component]
pub fn RulesPage() -> impl IntoView {
    let news = use_live();
    let rules = load(move || news.track(&[Topic::Runs, Topic::Breakers]), |_| list_rules());
    let user = use_user();
    view! {
        <Title text="Rules"/>
        <h1>"Rules"</h1>
        <p class="muted">"Loaded from the configuration (at start, and again on SIGHUP), tried in this order: the first rule whose matchers all hold decides."</p>

        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let rules = rules.await;
                let (can_act, is_admin) = (allows(user, Role::Operator).await, allows(user, Role::Admin).await);
                match rules {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(rules) if rules.is_empty() => view! {
                        <EmptyState title="No rules loaded">
                            <p>"Add "<code>"[[rules]]"</code>" to the configuration file (see "<code>"selfheal.example.toml"</code>
                               ") and restart; until then selfheal records alerts but heals nothing."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(rules) => view! {
                        <section class="card" data-testid="kill-switch">
                            <h2>"Kill switch"</h2>
                            <p class="muted">"While healing is paused, new alerts are recorded as paused and queued runs wait; resume from the banner."</p>
                            {can_act.then(|| view! { <PauseForm/> })}
                            {is_admin.then(|| view! { <ReloadRulesButton/> })}
                        </section>
                        <div data-testid="rules">
                            {rules.into_iter().map(|r| view! { <RuleCard rule=r can_act/> }).collect_view()}
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RuleCard(rule: RuleView, can_act: bool) -> impl IntoView {
    let name = rule.name.clone();
    let attempts = if rule.max_attempts == 1 { "attempt" } else { "attempts" };
    let notify = match rule.notify_targets {
        0 => "none".to_owned(),
        n => format!("{n} target{}", if n == 1 { "" } else { "s" }),
    };
    let vars =
        if rule.vars_from_labels.is_empty() { "—".to_owned() } else { rule.vars_from_labels.join(", ") };
    view! {
        <section class="card rule" data-testid="rule" id=format!("rule-{}", rule.name)>
            <h2>{rule.name.clone()}" "<span class=format!("badge mode-{}", rule.mode)>{rule.mode.clone()}</span></h2>
            <dl class="facts">
                <dt>"Matches"</dt>
                <dd>{rule.matchers.into_iter().map(|m| view! { <code class="chip">{m}</code>" " }).collect_view()}</dd>
                <dt>"Playbook"</dt><dd><code>{rule.playbook}</code></dd>
                <dt>"Target label"</dt><dd><code>{rule.target_label}</code>{rule.limit_from.map(|l| view! { " · "<code>"--limit"</code>" from "<code>{l}</code> })}</dd>
                <dt>"Variables from labels"</dt><dd>{vars}</dd>
                <dt>"Cooldown"</dt><dd>{rule.cooldown}</dd>
                <dt>"Breaker"</dt><dd>{format!("opens after {} {attempts} within {}", rule.max_attempts, rule.window)}</dd>
                <dt>"Timeout"</dt><dd>{rule.timeout}</dd>
                <dt>"Verify"</dt>
                <dd>{match rule.verify {
                    Some(q) => view! { <code>{q}</code> }.into_any(),
                    None => "the alert no longer firing".into_any(),
                }}{format!(" · within {}, held {}", rule.verify_within, rule.verify_hold)}</dd>
                <dt>"Guards"</dt>
                <dd data-testid="rule-guards">{if rule.guards.is_empty() {
                    "none".into_any()
                } else {
                    rule.guards.into_iter().map(|(name, expr)| view! {
                        <span class="guard">{name}": "<code>{expr}</code></span><br/>
                    }).collect_view().into_any()
                }}</dd>
                <dt>"Blast radius"</dt>
                <dd data-testid="rule-blast-radius">{rule.blast_radius.unwrap_or_else(|| "none".to_owned())}</dd>
                <dt>"Silence while running"</dt><dd>{if rule.silence { "yes" } else { "no" }}</dd>
                <dt>"Notifications"</dt><dd>{notify}</dd>
            </dl>
            <Breakers rule=name.clone() breakers=rule.breakers can_act/>
            {can_act.then(|| view! { <PauseForm rule=name/> })}
        </section>
    }
}

#[component]
fn Breakers(rule: String, breakers: Vec<BreakerState>, can_act: bool) -> impl IntoView {
    if breakers.is_empty() {
        return view! { <p class="muted">"No engine attempts within the window: every breaker closed."</p> }
            .into_any();
    }
    view! {
        <table class="table" data-testid="rule-breakers">
            <thead><tr><th>"Target"</th><th>"Breaker"</th><th>"Attempts in window"</th><th>"Last attempt"</th><th>"Last reset"</th><th></th></tr></thead>
            <tbody>
                {breakers.into_iter().map(|b| {
                    let (rule, target) = (rule.clone(), b.target.clone());
                    view! {
                        <tr>
                            <td><code>{b.target}</code></td>
                            <td>{if b.open {
                                view! { <span class="badge tone-bad">"open"</span> }.into_any()
                            } else {
                                view! { <span class="badge tone-ok">"closed"</span> }.into_any()
                            }}</td>
                            <td>{format!("{} of {}", b.attempts, b.max_attempts)}</td>
                            <td><RelTime at=b.last_attempt/></td>
                            <td>{match b.last_reset { Some(at) => view! { <RelTime at=at/> }.into_any(), None => "—".into_any() }}</td>
                            <td><BreakerReset rule target can_act/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
