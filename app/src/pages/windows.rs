//! `/windows`: maintenance windows and freezes — which are open, which come, their history —
//! and, for operators, a window opened or cancelled here (plain forms: no wasm per action).
use crate::components::load::load;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use crate::api::gates::{list_windows, CancelWindow, OpenWindow};
use crate::components::empty_state::EmptyState;
use crate::components::live::use_live;
use crate::components::shell::{allows, use_user};
use crate::model::{Role, Topic, WindowView};

#[component]
pub fn WindowsPage() -> impl IntoView {
    let news = use_live();
    let windows = load(move || news.track(&[Topic::Pauses, Topic::Alerts]), |_| list_windows());
    let user = use_user();
    view! {
        <Title text="Maintenance windows"/>
        <h1>"Maintenance windows"</h1>
        <p class="muted">"While a window covers an alert (all its matchers hold), its episode is decided "<code>"in_maintenance"</code>
           ": held and decided again when the window ends (if still firing), or queued for approval — as the window says."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let windows = windows.await;
                let can_act = allows(user, Role::Operator).await;
                view! {
                    {can_act.then(|| view! { <OpenForm/> })}
                    {match windows {
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <EmptyState title="No maintenance windows">
                                <p>"Add "<code>"[[maintenance]]"</code>" to the configuration, open one here, or "
                                   <code>"POST /api/window_open"</code>" with a token around a deploy."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(list) => view! { <WindowTable list can_act/> }.into_any(),
                    }}
                }
            })}
        </Transition>
    }
}

#[component]
fn WindowTable(list: Vec<WindowView>, can_act: bool) -> impl IntoView {
    view! {
        <table class="table" data-testid="windows">
            <thead><tr><th>"Window"</th><th>"Matches"</th><th>"When"</th><th>"Now"</th><th>"Does"</th><th>"By"</th><th></th></tr></thead>
            <tbody>
                {list.into_iter().map(|w| {
                    let cancellable = can_act && w.in_force && w.source == "api";
                    let name = w.name.clone();
                    view! {
                        <tr class=if w.open { "row-open" } else { "" }>
                            <td><strong>{w.name}</strong><br/><span class="muted">{w.reason}</span></td>
                            <td>{w.matchers.into_iter().map(|m| view! { <code class="chip">{m}</code>" " }).collect_view()}</td>
                            <td class="nowrap">{w.when}</td>
                            <td data-testid="window-state">{w.state}</td>
                            <td>{w.action}</td>
                            <td>{format!("{} ({})", w.created_by, w.source)}</td>
                            <td>{cancellable.then(|| view! {
                                <form method="post" action=CancelWindow::PATH class="inline-form">
                                    <input type="hidden" name="name" value=name/>
                                    <button type="submit" class="btn btn-small" data-testid="window-cancel">"Cancel"</button>
                                </form>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Open a window now for a while (the common case), or by its own times in the API.
#[component]
fn OpenForm() -> impl IntoView {
    view! {
        <form method="post" action=OpenWindow::PATH class="card filters" data-testid="window-open">
            <label>"Name"<input type="text" name="name" required=true maxlength="100" data-testid="window-name"/></label>
            <label>"Matchers (one per line)"<textarea name="matchers" required=true rows="2"
                placeholder="service=\"nginx\"" data-testid="window-matchers"></textarea></label>
            <label>"For"<input type="text" name="for" required=true placeholder="2h" data-testid="window-for"/></label>
            <label>"Reason"<input type="text" name="reason" maxlength="500" placeholder="deploy 4.2"/></label>
            <label>"Heals"
                <select name="action">
                    <option value="hold">"held, decided again at the end"</option>
                    <option value="approval">"wait for approval"</option>
                </select>
            </label>
            <label class="inline"><input type="checkbox" name="silence" value="true"/>" also silence them in Alertmanager"</label>
            <button type="submit" class="btn" data-testid="window-submit">"Open window"</button>
        </form>
    }
}
