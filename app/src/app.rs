//! The HTML shell, the root component and the routes.
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use crate::components::shell::Shell;
use crate::pages::{
    account::AccountPage, admin::AdminPage, alert::AlertPage, alerts::AlertsPage, approvals::ApprovalsPage,
    audit::AuditPage, login::LoginPage, not_found::NotFound, overview::OverviewPage,
    playbooks::PlaybooksPage, rules::RulesPage, run::RunPage, runs::RunsPage, windows::WindowsPage,
};

/// The full HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::security::set_page_policy();
    #[cfg(feature = "ssr")]
    let stylesheet = crate::ssr::assets::stylesheet_href(&options);
    #[cfg(not(feature = "ssr"))]
    let stylesheet = String::new();
    // Server-only parts of the document (the browser hydrates the app alone, never this shell,
    // so none of it is in the wasm bundle): the OpenID Provider's name for the login page's
    // button, and what the URL says went wrong (`ssr::page_notice`: a plain form's refusal, a
    // sign-in with the provider refused), after the app, out of hydration's way, dismissed with
    // CSS alone.
    #[cfg(feature = "ssr")]
    let (sso, form_error) = (
        crate::ssr::sso_name().map(|name| view! { <meta name="selfheal-sso" content=name/> }),
        crate::ssr::page_notice().map(|e| {
            view! {
                <div class="banner banner-error form-error" role="alert" data-testid="form-error">
                    {e}
                    <label class="dismiss" title="Dismiss"><input type="checkbox"/>"✕"</label>
                </div>
            }
        }),
    );
    #[cfg(not(feature = "ssr"))]
    let (sso, form_error) = ((), ());
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" id="selfheal" href=stylesheet/>
                {sso}
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
                {form_error}
            </body>
        </html>
    }
}

/// The root component: routes, with every page but the login behind the authenticated shell.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Flips to true only in the browser, once the wasm bundle has taken over the page; browser
    // tests wait for it before they click.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));

    view! {
        <Title formatter=|text: String| if text.is_empty() { "selfheal".to_owned() } else { format!("{text} · selfheal") }/>
        <div id="app" data-hydrated=move || hydrated.get().to_string()>
            <Router>
                <Routes fallback=NotFound>
                    <Route path=path!("/login") view=LoginPage/>
                    <ParentRoute path=path!("") view=Shell>
                        <Route path=path!("") view=OverviewPage/>
                        <Route path=path!("alerts") view=AlertsPage/>
                        <Route path=path!("alerts/:id") view=AlertPage/>
                        <Route path=path!("runs") view=RunsPage/>
                        <Route path=path!("runs/:id") view=RunPage/>
                        <Route path=path!("playbooks") view=PlaybooksPage/>
                        <Route path=path!("approvals") view=ApprovalsPage/>
                        <Route path=path!("rules") view=RulesPage/>
                        <Route path=path!("windows") view=WindowsPage/>
                        <Route path=path!("audit") view=AuditPage/>
                        <Route path=path!("admin") view=AdminPage/>
                        <Route path=path!("account") view=AccountPage/>
                    </ParentRoute>
                </Routes>
            </Router>
        </div>
    }
}
