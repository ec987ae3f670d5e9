//! The Reset button of one circuit breaker, for operators only (the server checks again).
use leptos::prelude::*;

use crate::api::heal::ResetBreaker;
use crate::components::shell::can_act;

/// A one-button form that resets the breaker of (`rule`, `target`); nothing for viewers.
#[component]
pub fn BreakerReset(rule: String, target: String, reset: ServerAction<ResetBreaker>) -> impl IntoView {
    let can_act = can_act();
    move || {
        can_act.get().then(|| {
            let (rule, target) = (rule.clone(), target.clone());
            view! {
                <ActionForm action=reset>
                    <input type="hidden" name="rule" value=rule/>
                    <input type="hidden" name="target" value=target/>
                    <button type="submit" class="btn btn-small" data-testid="reset-breaker">"Reset"</button>
                </ActionForm>
            }
        })
    }
}
