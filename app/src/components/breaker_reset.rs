//! The Reset button of one circuit breaker, for operators only (the server checks again).
use leptos::prelude::*;

use crate::api::heal::ResetBreaker;

/// A one-button form that resets the breaker of (`rule`, `target`); nothing unless `can_act`
/// (`shell::allows`, awaited where the breaker is listed).
#[component]
pub fn BreakerReset(
    rule: String,
    target: String,
    reset: ServerAction<ResetBreaker>,
    can_act: bool,
) -> impl IntoView {
    can_act.then(|| {
        view! {
            <ActionForm action=reset>
                <input type="hidden" name="rule" value=rule/>
                <input type="hidden" name="target" value=target/>
                <button type="submit" class="btn btn-small" data-testid="reset-breaker">"Reset"</button>
            </ActionForm>
        }
    })
}
