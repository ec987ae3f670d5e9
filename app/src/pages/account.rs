//! `/account`: the logged-in user changes their own password (every role). Works as a plain
//! form before hydration; the server checks the current password and ends other sessions.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::auth::ChangePassword;
use crate::components::shell::UserResource;

/// The user, their role, and the change-password form.
#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let me = use_context::<UserResource>();
    // Read inside a Suspense: the resource resolves during SSR and from the serialised value on
    // hydration alike (read outside a loading boundary, the server rendered one thing and the
    // browser another, and hydration panicked).
    let who = move || {
        Suspend::new(async move {
            let user = match me {
                Some(m) => m.await.ok().flatten(),
                None => None,
            };
            user.map(|u| format!("{} ({})", u.username, u.role.as_str()))
        })
    };
    view! {
        <Title text="Account"/>
        <h1>"Your account"</h1>
        <p class="muted" data-testid="account-user"><Suspense fallback=|| ()>{who}</Suspense></p>
        <section class="card account-card">
            <h2>"Change your password"</h2>
            <p class="muted">"Your other sessions end; this one stays. At least 12 characters, not your user name, not easy to guess: a few unrelated words make a strong one."</p>
            <ActionForm action=change attr:class="form-stack" attr:data-testid="change-password">
                <label>"Current password"
                    <input type="password" name="current" autocomplete="current-password" required/>
                </label>
                <label>"New password"
                    <input type="password" name="new" autocomplete="new-password" minlength="12" required/>
                </label>
                <button type="submit" class="btn btn-primary">"Change password"</button>
            </ActionForm>
            {move || change.value().get().map(|r| match r {
                Ok(()) => view! { <p class="notice" role="status" data-testid="password-changed">"Password changed. Other sessions have ended."</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert" data-testid="password-error">{e.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}
