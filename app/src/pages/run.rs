//! `/runs/:id`: one run, its outcome and its playbook output, refreshed every second while the
//! run is queued or running (server-rendered first, so it reads without JavaScript too).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::heal::{ApproveRun, CancelRun};
use crate::api::runs::{get_run, get_run_output, OUTPUT_PAGE_SIZE};
use crate::components::approval_form::ApprovalForm;
use crate::components::badges::StatusBadge;
use crate::components::shell::can_act;
use crate::model::RunSummary;

/// How often a live run's page asks for news.
const REFRESH_MS: u64 = 1000;

fn in_flight(status: &str) -> bool {
    matches!(status, "queued" | "running" | "awaiting_approval")
}

/// The run detail page.
#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let tick = RwSignal::new(0u64);
    let approve = ServerAction::<ApproveRun>::new();
    let cancel = ServerAction::<CancelRun>::new();
    let acted = move || approve.version().get() + cancel.version().get();
    let run = Resource::new(move || (id(), tick.get(), acted()), |(id, _, _)| get_run(id));
    let output = Resource::new(move || (id(), tick.get()), |(id, _)| get_run_output(id, 0));

    // In the browser only: poll while the run is in flight.
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                let live = run.get_untracked().and_then(|r| r.ok()).is_some_and(|r| in_flight(&r.status));
                if live {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_millis(REFRESH_MS),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <Title text="Run"/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match run.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(r) => view! { <RunHeader run=r.clone()/> <RunActions run=r approve cancel/> }.into_any(),
                }
            })}
            <h2>"Output"</h2>
            {move || Suspend::new(async move {
                match output.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(lines) if lines.is_empty() => view! { <p class="muted">"No output yet."</p> }.into_any(),
                    Ok(lines) => {
                        let more = (lines.len() as i64 == OUTPUT_PAGE_SIZE).then(|| view! {
                            <p class="muted">{format!("Showing the first {OUTPUT_PAGE_SIZE} lines.")}</p>
                        });
                        view! {
                            <pre class="output" data-testid="run-output">
                                {lines.into_iter().map(|l| view! {
                                    <span class=format!("line line-{}", l.stream)>{l.line}"\n"</span>
                                }).collect_view()}
                            </pre>
                            {more}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Approve / reject / cancel, for operators, on runs that have not started.
#[component]
fn RunActions(
    run: RunSummary,
    approve: ServerAction<ApproveRun>,
    cancel: ServerAction<CancelRun>,
) -> impl IntoView {
    let can_act = can_act();
    let waiting = run.status == "awaiting_approval";
    let cancellable = waiting || run.status == "queued";
    let id = run.id;
    let error = move || {
        approve
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| cancel.value().get().and_then(|r| r.err()))
            .map(|e| e.to_string())
    };
    view! {
        {move || (can_act.get() && cancellable).then(|| view! {
            <div class="actions" data-testid="run-actions">
                {waiting.then(|| view! {
                    <ApprovalForm run_id=id approve/>
                })}
                <ActionForm action=cancel>
                    <input type="hidden" name="run_id" value=id.to_string()/>
                    <button type="submit" class="btn btn-small" data-testid="cancel">"Cancel run"</button>
                </ActionForm>
            </div>
        })}
        {move || error().map(|e| view! { <p class="error">{e}</p> })}
    }
}

#[component]
fn RunHeader(run: RunSummary) -> impl IntoView {
    view! {
        <h1>{format!("Run #{} — {}", run.id, run.rule)}</h1>
        <dl class="facts" data-testid="run-facts">
            <dt>"Status"</dt><dd><StatusBadge status=run.status.clone()/></dd>
            <dt>"Verification"</dt><dd>{run.verification.clone().map(|v| view! { <StatusBadge status=v/> })}</dd>
            <dt>"Playbook"</dt><dd><code>{run.playbook.clone()}</code>" ("{run.mode.clone()}")"</dd>
            <dt>"Target"</dt><dd><code>{run.target.clone()}</code></dd>
            <dt>"Triggered by"</dt><dd>{run.requested_by.clone()}{run.alert_id.map(|a| format!(" (alert #{a})"))}</dd>
            <dt>"Queued / started / finished"</dt>
            <dd>{format!("{} / {} / {}", run.created_at, run.started_at.clone().unwrap_or_default(), run.finished_at.clone().unwrap_or_default())}</dd>
            <dt>"Exit code"</dt><dd>{run.exit_code.map(|c| c.to_string())}</dd>
            <dt>"Time to heal"</dt><dd>{run.time_to_heal_ms.map(|ms| format!("{:.1} s from the alert's start", ms as f64 / 1000.0))}</dd>
            <dt>"Output"</dt><dd>{format!("{} lines{}", run.output_lines, if run.output_truncated { " (truncated)" } else { "" })}</dd>
        </dl>
        {run.error.clone().map(|e| view! { <p class="error">{e}</p> })}
    }
}
