//! The HTML shell, the root component and the routes.
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;
use leptos_router::Lazy;

use crate::components::shell::Shell;
use crate::pages::{not_found::NotFound, routes};

/// The full HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::security::set_page_policy();
    // Beside the bundle: under `pkg/<content hash>/` in a built site (the server's options say).
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
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
    // True while the router fetches and renders the next page (a page's code arrives with its
    // first visit, app/src/pages/routes.rs); browser tests wait for it to end after navigating.
    let (routing, set_routing) = signal(false);

    view! {
        <Title formatter=|text: String| if text.is_empty() { "selfheal".to_owned() } else { format!("{text} · selfheal") }/>
        // `data-hydrated="true"` is set by `crate::hydrate` once the page is live (browser tests
        // wait for it before they click).
        <div id="app" data-routing=move || routing.get().to_string()>
            <Router set_is_routing=set_routing>
                <KeepTarget/>
                <Routes fallback=NotFound>
                    <Route path=path!("/login") view={Lazy::<routes::LoginPage>::new()}/>
                    <ParentRoute path=path!("") view=Shell>
                        <Route path=path!("") view={Lazy::<routes::OverviewPage>::new()}/>
                        <Route path=path!("alerts") view={Lazy::<routes::AlertsPage>::new()}/>
                        <Route path=path!("alerts/:id") view={Lazy::<routes::AlertPage>::new()}/>
                        <Route path=path!("runs") view={Lazy::<routes::RunsPage>::new()}/>
                        <Route path=path!("runs/:id") view={Lazy::<routes::RunPage>::new()}/>
                        <Route path=path!("playbooks") view={Lazy::<routes::PlaybooksPage>::new()}/>
                        <Route path=path!("approvals") view={Lazy::<routes::ApprovalsPage>::new()}/>
                        <Route path=path!("rules") view={Lazy::<routes::RulesPage>::new()}/>
                        <Route path=path!("windows") view={Lazy::<routes::WindowsPage>::new()}/>
                        <Route path=path!("audit") view={Lazy::<routes::AuditPage>::new()}/>
                        <Route path=path!("admin") view={Lazy::<routes::AdminPage>::new()}/>
                        <Route path=path!("account") view={Lazy::<routes::AccountPage>::new()}/>
                    </ParentRoute>
                </Routes>
            </Router>
        </div>
    }
}

/// The page the router is showing or fetching, kept in `window.__selfheal_target` for the panic
/// hook (`crate::hydrate`): when that page's part of the bundle cannot be fetched (a new build
/// replaced the folder under an open page), the browser is sent there, so it loads the new
/// build at the page that was asked for (the address bar changes only once the part is in).
#[component]
fn KeepTarget() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let location = leptos_router::hooks::use_location();
        Effect::new(move |_| {
            let search = location.search.get();
            let query = if search.is_empty() { String::new() } else { format!("?{search}") };
            let target = format!("{}{query}", location.pathname.get());
            let _ = js_sys::Reflect::set(&js_sys::global(), &TARGET.into(), &target.into());
        });
    }
}

/// Where [`KeepTarget`] keeps the page asked for.
pub const TARGET: &str = "__selfheal_target";
