//! `/login`: the one public page. The form posts to `/api/login` and works without JavaScript.
use leptos::prelude::*;
use leptos_meta::Title;

use leptos_router::hooks::use_query_map;

use crate::api::auth::Login;
use crate::model::return_path;

/// The login form.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").filter(|n| return_path(n).is_some()).unwrap_or_default();
    let error = move || login.value().get().and_then(|r| r.err()).map(|e| e.to_string());

    view! {
        <Title text="Log in"/>
        <div class="login-page">
            <div class="card login-card">
                <h1 class="brand"><span class="brand-mark" aria-hidden="true">"⟳"</span>" selfheal"</h1>
                <p class="muted">"Self-healing for your Prometheus alerts."</p>
                <ActionForm action=login>
                    <div class="form-stack">
                        <input type="hidden" name="next" value=next/>
                        <label>
                            "Username"
                            <input type="text" name="username" autocomplete="username" required autofocus/>
                        </label>
                        <label>
                            "Password"
                            <input type="password" name="password" autocomplete="current-password" required/>
                        </label>
                        <button type="submit" class="btn btn-primary" disabled=move || login.pending().get()>
                            "Log in"
                        </button>
                    </div>
                </ActionForm>
                {move || error().map(|e| view! { <p class="error" role="alert" data-testid="login-error">{e}</p> })}
            </div>
        </div>
    }
}
