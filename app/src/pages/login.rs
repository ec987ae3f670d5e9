//! `/login`: the one public page. The form posts to `/api/login` and works without JavaScript.
use leptos::prelude::*;
use leptos_meta::Title;

use leptos_router::hooks::use_query_map;

use crate::api::auth::Login;
use crate::model::return_path;

/// The OpenID Provider's name when sign-in with one is configured: the server knows it, and
/// puts it in the page's head (`selfheal-sso`, see `app::shell`) for the browser to read, so
/// both render the same button without a request or a loading boundary.
fn sso_name() -> Option<String> {
    #[cfg(feature = "ssr")]
    let name = crate::ssr::sso_name();
    #[cfg(not(feature = "ssr"))]
    let name = document()
        .query_selector("meta[name=selfheal-sso]")
        .ok()
        .flatten()
        .and_then(|meta| meta.get_attribute("content"));
    name
}

fn next_untracked(query: &Memo<leptos_router::params::ParamsMap>) -> Option<String> {
    query.read_untracked().get("next").filter(|n| return_path(n).is_some())
}

/// The login form.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").filter(|n| return_path(n).is_some()).unwrap_or_default();
    let error = move || login.value().get().and_then(|r| r.err()).map(|e| e.to_string());
    // Computed once: the button is plain HTML (no request, no loading boundary).
    let sso_href = match next_untracked(&query) {
        None => "/auth/oidc/login".to_owned(),
        Some(next) => format!(
            "/auth/oidc/login?next={}",
            percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
        ),
    };

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
                {sso_name().map(|name| view! {
                    <p class="login-or muted">"or"</p>
                    <a class="btn sso-button" href=sso_href rel="external" data-testid="sso">{format!("Sign in with {name}")}</a>
                })}
                {move || error().map(|e| view! { <p class="error" role="alert" data-testid="login-error">{e}</p> })}
            </div>
        </div>
    }
}
