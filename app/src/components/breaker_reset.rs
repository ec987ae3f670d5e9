//! The Reset button of one circuit breaker, for operators only (the server checks again). A
//! plain form: it works before hydration, the page shows the breaker closed when it comes back
//! (and live), and it costs the bundle nothing (an action form per server function did).
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::heal::ResetBreaker;

/// A one-button form that resets the breaker of (`rule`, `target`); nothing unless `can_act`
/// (`shell::allows`, awaited where the breaker is listed).
#[component]
pub fn BreakerReset(rule: String, target: String, can_act: bool) -> impl IntoView {
    can_act.then(|| {
        view! {
            <form method="post" action=ResetBreaker::PATH class="inline-form">
                <input type="hidden" name="rule" value=rule/>
                <input type="hidden" name="target" value=target/>
                <button type="submit" class="btn btn-small" data-testid="reset-breaker">"Reset"</button>
            </form>
        }
    })
}
