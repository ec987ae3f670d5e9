//! The authenticated layout: top bar with navigation, the user and their role, and logout.
use crate::components::load::{load, Loaded};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::{Outlet, Redirect, A};

use crate::api::auth::{get_current_user, Logout};
use crate::api::gates::list_blast_trips;
use crate::api::heal::{list_pauses, nav_counts};
use crate::components::blast_banner::BlastBanner;
use crate::components::kill_switch::ResumeButton;
use crate::components::time::RelTime;
use crate::error::AppError;
use crate::model::{CurrentUser, NavFigures, PauseView, Role, Topic};

/// The logged-in user, loaded once by the shell and shared with the pages below it.
pub type UserResource = Loaded<Result<Option<CurrentUser>, AppError>>;

/// The signed-in user as the shell loads it; take it when a page's component is created.
pub fn use_user() -> Option<UserResource> {
    use_context::<UserResource>()
}

/// Whether the signed-in user has at least `role` (operators act; admins administer). Buttons
/// only: the server checks again. Await it inside the loading boundary that shows the control,
/// so that the server renders exactly what the browser hydrates: a signal read there raced the
/// user's loading, and a page rendered without an operator's button failed to hydrate in the
/// browser, which had the user.
pub async fn allows(user: Option<UserResource>, role: Role) -> bool {
    match user {
        Some(user) => user.await.ok().flatten().is_some_and(|u| u.role.allows(role)),
        None => false,
    }
}

/// The login page's URL that returns to the page shown now.
fn back_after_login() -> String {
    let location = leptos_router::hooks::use_location();
    let search = location.search.get_untracked();
    let query = if search.is_empty() { String::new() } else { format!("?{search}") };
    let here = format!("{}{query}", location.pathname.get_untracked());
    crate::model::login_url(&here)
}

/// Layout for every page behind the login; sends anonymous visitors to `/login`.
#[component]
pub fn Shell() -> impl IntoView {
    let user: UserResource = load(|| (), |_| get_current_user());
    let live = crate::components::live::provide_live();
    let pauses = load(move || live.track(&[Topic::Pauses]), |_| list_pauses());
    let trips = load(move || live.track(&[Topic::Breakers]), |_| list_blast_trips());
    // Loaded in the browser only, after hydration: a count rendered by the server could differ
    // from the one the browser hydrates with (it changes by the second), which breaks hydration.
    // Read by an effect, not inside the Suspense below: a resource read there would hold the
    // menu back as pending while the page hydrates.
    let counts = LocalResource::new(move || {
        live.track(&[Topic::Alerts, Topic::Approvals]);
        nav_counts()
    });
    let figures = RwSignal::new(None::<NavFigures>);
    Effect::new(move |_| figures.set(counts.get().and_then(Result::ok)));
    provide_context(user);
    crate::components::time::provide_now();

    view! {
        <div class="layout">
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"⟳"</span>
                    " selfheal"
                </a>
                <Suspense fallback=|| view! { <span class="muted">"…"</span> }>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => view! { <Nav user=u figures/> }.into_any(),
                            Ok(None) => view! { <Redirect path=back_after_login()/> }.into_any(),
                            Err(e) => view! { <span class="error">{e.to_string()}</span> }.into_any(),
                        }
                    })}
                </Suspense>
            </header>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let pauses = pauses.await.ok().filter(|p| !p.is_empty())?;
                    let can_act = allows(Some(user), Role::Operator).await;
                    Some(view! { <PauseBanner pauses can_act/> })
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let trips = trips.await.ok().filter(|t| !t.is_empty())?;
                    let can_act = allows(Some(user), Role::Operator).await;
                    Some(view! { <BlastBanner trips can_act/> })
                })}
            </Transition>
            <main class="content">
                <Outlet/>
            </main>
        </div>
    }
}

/// The kill switch in force, on every page: what is paused, why, by whom and since when.
#[component]
fn PauseBanner(pauses: Vec<PauseView>, can_act: bool) -> impl IntoView {
    view! {
        <div class="banner banner-paused" role="status" data-testid="pause-banner">
            {pauses.into_iter().map(|p| {
                let what = if p.scope == "*" { "Healing is paused".to_owned() } else { format!("Rule {} is paused", p.scope) };
                view! {
                    <div class="banner-line">
                        <p><strong>{what}</strong>": "{p.reason}" — "{p.paused_by}", "<RelTime at=p.paused_at/>
                           ". New alerts are recorded as paused; queued runs wait."</p>
                        {can_act.then(|| view! { <ResumeButton scope=p.scope/> })}
                    </div>
                }
            }).collect_view()}
        </div>
    }
}

/// Navigation links (Admin only for admins), the user with their role, and logout.
#[component]
fn Nav(user: CurrentUser, figures: RwSignal<Option<NavFigures>>) -> impl IntoView {
    let figures = move || figures.get();
    let is_admin = user.role.allows(Role::Admin);
    view! {
        // On a phone the links fold behind "Menu" (a checkbox and its label: it works before
        // the page hydrates); wider screens always show them (style/main.css).
        <input type="checkbox" id="menu-toggle" class="fold-toggle"/>
        <label for="menu-toggle" class="btn btn-small fold-button" data-testid="menu">"Menu"</label>
        <nav class="nav foldable" aria-label="Main">
            <A href="/" exact=true>"Overview"</A>
            <A href="/alerts">"Alerts"{move || count(figures().map(|c| c.firing), "firing")}</A>
            <A href="/runs">"Runs"</A>
            <A href="/playbooks">"Playbooks"</A>
            <A href="/approvals">"Approvals"{move || count(figures().map(|c| c.approvals), "awaiting")}</A>
            <A href="/rules">"Rules"</A>
            <A href="/windows">"Windows"</A>
            <A href="/audit">"Audit"</A>
            {is_admin.then(|| view! { <A href="/admin">"Admin"</A> })}
        </nav>
        <div class="userbox">
            <a href="/account" class="user" data-testid="current-user" title="Your account">{user.username}</a>
            <span class=format!("role role-{}", user.role) data-testid="current-role">{user.role.as_str()}</span>
            // A plain form: the server ends the session and sends the browser to the login page
            // (an action form here cost the bundle 17 KB).
            <form method="post" action=Logout::PATH class="inline-form">
                <button type="submit" class="btn btn-quiet" data-testid="logout">"Log out"</button>
            </form>
        </div>
    }
}

/// A count beside a navigation link, when there is one.
fn count(n: Option<i64>, what: &'static str) -> Option<impl IntoView> {
    n.filter(|n| *n > 0).map(|n| view! { <span class="count" title=format!("{n} {what}") data-testid=format!("nav-{what}")>{n}</span> })
}
