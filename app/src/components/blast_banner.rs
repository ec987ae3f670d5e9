//! The blast-radius trips in force, on every page: which rule, which scope, why; operators
//! reset one with a plain form (works before hydration; no wasm for an action).
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::gates::ResetBlastRadius;
use crate::components::time::RelTime;
use crate::model::BlastTripView;

/// One banner listing `trips`; a Reset button on each when `can_act`.
#[component]
pub fn BlastBanner(trips: Vec<BlastTripView>, can_act: bool) -> impl IntoView {
    view! {
        <div class="banner banner-paused" role="status" data-testid="blast-banner">
            {trips.into_iter().map(|t| {
                let scope = if t.scope.is_empty() { "all its targets".to_owned() } else { t.scope.clone() };
                view! {
                    <div class="banner-line">
                        <p><strong>{format!("Blast radius of rule {} tripped for {scope}", t.rule)}</strong>
                           ": "{t.detail}" — "<RelTime at=t.tripped_at/>". Its heals wait for approval until reset."</p>
                        {can_act.then(|| view! {
                            <form method="post" action=ResetBlastRadius::PATH class="inline-form">
                                <input type="hidden" name="rule" value=t.rule/>
                                <input type="hidden" name="scope" value=t.scope/>
                                <button type="submit" class="btn btn-small" data-testid="blast-reset">"Reset"</button>
                            </form>
                        })}
                    </div>
                }
            }).collect_view()}
        </div>
    }
}
