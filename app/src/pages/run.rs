//! `/runs/:id`: one run, its outcome, its per-host recap and its playbook output, asked again
//! whenever the server says a run changed, through the end of its verification (server-rendered
//! first, so it reads without JavaScript too; the output's own paging and live tail are in
//! `components::run_output`).
use crate::components::load::load;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::heal::{ApproveRun, CancelRun};
use crate::api::run_output::{get_run_recap, get_run_tasks};
use crate::api::runs::get_run;
use crate::components::approval_form::ApprovalForm;
use crate::components::badges::StatusBadge;
use crate::components::live::use_live;
use crate::components::run_output::RunOutput;
use crate::components::shell::{allows, use_user};
use crate::components::time::{duration_ms, format_ms, Elapsed, RelTime};
use crate::model::{HostRecap, Role, RunStatus, RunSummary, TaskView, Topic, Verification};

/// Whether the page still has news to wait for: the run is waiting or running, or its
/// verification is pending (the verdict, and the time to heal, arrive after the playbook ends).
fn still_changing(run: &RunSummary) -> bool {
    run.status.is_active() || run.verification == Some(Verification::Pending)
}

/// The run detail page.
#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let news = use_live();
    let approve = ServerAction::<ApproveRun>::new();
    let acted = move || approve.version().get();
    // Output too: the header counts the lines stored so far, and the output's page links use it.
    let run =
        load(move || (id(), news.track(&[Topic::Runs, Topic::Output]), acted()), |(id, _, _)| get_run(id));
    let recap = load(move || (id(), news.track(&[Topic::Runs])), |(id, _)| get_run_recap(id));
    let user = use_user();
    let tasks = load(move || (id(), news.track(&[Topic::Runs, Topic::Output])), |(id, _)| get_run_tasks(id));
    let live = Signal::derive(move || run.get().and_then(|r| r.ok()).is_some_and(|r| still_changing(&r)));
    let total = Signal::derive(move || run.get().and_then(|r| r.ok()).map_or(0, |r| r.output_lines));

    view! {
        <Title text=move || format!("Run #{}", id())/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let run = run.await;
                let can_act = allows(user, Role::Operator).await;
                match run {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(r) => view! { <RunHeader run=r.clone()/> <RunActions run=r approve can_act/> }.into_any(),
                }
            })}
            {move || Suspend::new(async move {
                let tasks = tasks.await.unwrap_or_default();
                let failed = tasks.iter().find(|t| t.status == "failed").cloned();
                view! {
                    {failed.map(|t| view! { <FailedTask task=t/> })}
                    {(!tasks.is_empty()).then(|| view! { <Tasks tasks/> })}
                }
            })}
        </Transition>
        // Inside a Transition: `live` and `total` read the run, which must not be read outside
        // one while hydrating (it would warn, and could mismatch).
        <Transition fallback=|| ()>
            {move || view! { <RunOutput run_id=id() live total/> }}
        </Transition>
        // Below the output, so that its arrival at the end does not push the output down.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                recap.await.ok().filter(|hosts| !hosts.is_empty()).map(|hosts| view! { <Recap hosts/> })
            })}
        </Transition>
    }
}

/// Approve / reject / cancel, for operators, on runs that have not started.
#[component]
fn RunActions(run: RunSummary, approve: ServerAction<ApproveRun>, can_act: bool) -> impl IntoView {
    let waiting = run.status == RunStatus::AwaitingApproval;
    let cancellable = run.status.is_waiting();
    let id = run.id;
    let error = move || approve.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    view! {
        {(can_act && cancellable).then(|| view! {
            <div class="actions" data-testid="run-actions">
                {waiting.then(|| view! {
                    <ApprovalForm run_id=id approve/>
                })}
                // A plain form: the page comes back showing the run cancelled (an action form
                // here cost the bundle its own code).
                <form method="post" action=CancelRun::PATH class="inline-form">
                    <input type="hidden" name="run_id" value=id.to_string()/>
                    <button type="submit" class="btn btn-small" data-testid="cancel">"Cancel run"</button>
                </form>
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
            <dt>"Status"</dt><dd><StatusBadge status=run.status/></dd>
            <dt>"Verification"</dt><dd>{run.verification.map(|v| view! { <StatusBadge status=v/> })}</dd>
            <dt>"Playbook"</dt><dd><code>{run.playbook.clone()}</code>" ("{run.mode.as_str()}")"</dd>
            <dt>"Target"</dt><dd><code>{run.target.clone()}</code>
                {run.previous_run_id.map(|p| view! {
                    " · "<a href=format!("/runs/{p}") data-testid="previous-run">{format!("previous run #{p}")}</a>
                })}</dd>
            <dt>"Rule"</dt><dd><a href=format!("/rules#rule-{}", run.rule) data-testid="run-rule-link">{run.rule.clone()}</a></dd>
            <dt>"Triggered by"</dt><dd>{run.requested_by.clone()}{run.alert_id.map(|a| view! {
                " for "<a href=format!("/alerts/{a}") data-testid="run-alert-link">{format!("alert #{a}")}</a>
            })}</dd>
            <dt>"Queued"</dt><dd><RelTime at=run.created_at.clone()/></dd>
            <dt>"Ran"</dt>
            <dd>{run.started_at.clone().map(|s| view! { "started "<RelTime at=s/> })}
                {(run.status == RunStatus::Running).then(|| run.started_at.clone()).flatten().map(|s| view! {
                    ", running for "<Elapsed since=s/>
                })}
                {run.started_at.as_deref().zip(run.finished_at.as_deref()).and_then(|(s, f)| duration_ms(s, f))
                    .map(|ms| format!(", took {}", format_ms(ms)))}</dd>
            <dt>"Exit code"</dt><dd>{run.exit_code.map(|c| c.to_string())}</dd>
            <dt>"Time to heal"</dt><dd>{run.time_to_heal_ms.map(|ms| format!("{} from the alert's start to verified", format_ms(ms)))}</dd>
            <dt>"Output"</dt><dd>{format!("{} lines{}", run.output_lines, if run.output_truncated { " (truncated)" } else { "" })}</dd>
        </dl>
        {run.error.clone().map(|e| view! { <p class="error">{e}</p> })}
    }
}

/// The PLAY RECAP, one row per host; non-zero failures and unreachables stand out.
#[component]
fn Recap(hosts: Vec<HostRecap>) -> impl IntoView {
    let cell = |n: u64, bad: bool| {
        let class = if bad && n > 0 { "num tone-bad" } else { "num" };
        view! { <td class=class>{n}</td> }
    };
    view! {
        <h2>"Recap"</h2>
        <table class="table recap" data-testid="run-recap">
            <thead><tr>
                <th>"Host"</th><th>"ok"</th><th>"changed"</th><th>"unreachable"</th><th>"failed"</th>
                <th>"skipped"</th><th>"rescued"</th><th>"ignored"</th>
            </tr></thead>
            <tbody>
                {hosts.into_iter().map(|h| view! {
                    <tr>
                        <td><code>{h.host}</code></td>
                        {cell(h.ok, false)}{cell(h.changed, false)}{cell(h.unreachable, true)}{cell(h.failed, true)}
                        {cell(h.skipped, false)}{cell(h.rescued, false)}{cell(h.ignored, false)}
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// A failed run's first failed task, at the top: its name and its failure line, linked.
#[component]
fn FailedTask(task: TaskView) -> impl IntoView {
    let seq = task.failure_seq.unwrap_or(task.seq);
    let href = format!("?from={}#L{seq}", (seq - 20).max(1));
    view! {
        <div class="card failed-task" data-testid="failed-task">
            <strong>{format!("Failed at task “{}”", task.name)}</strong>
            {task.failure.map(|f| view! { <pre class="output">{f}</pre> })}
            <a href=href>{format!("line {seq} in context")}</a>
        </div>
    }
}

/// The playbook's tasks with their result and duration; each links to its lines. Folds away.
#[component]
fn Tasks(tasks: Vec<TaskView>) -> impl IntoView {
    let n = tasks.len();
    view! {
        <details class="tasks" open data-testid="run-tasks">
            <summary>{format!("Tasks ({n})")}</summary>
            <table class="table">
                <tbody>
                    {tasks.into_iter().map(|t| {
                        let href = format!("?from={}#L{}", (t.seq - 5).max(1), t.seq);
                        view! {
                            <tr class=format!("task task-{}", t.status)>
                                <td><span class=format!("badge line-{}", t.status)>{t.status.clone()}</span></td>
                                <td><a href=href>{t.name}</a></td>
                                <td class="num">{t.duration_ms.map(format_ms)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}
