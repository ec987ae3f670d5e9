//! Every page is a lazy route: its code is split out of the main wasm bundle into a chunk of its
//! own, fetched when the page is first shown (at hydration, the page the server rendered; the
//! server names that chunk in a `<link rel="preload">` so it arrives with the main bundle).
//! `scripts/build.sh` splits the bundle (`wasm-split-cli`) and checks the budget of each page.
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// A lazy route for a page component: a unit type whose view is the page, split out by
/// `#[lazy_route]`.
macro_rules! lazy_pages {
    ($($page:ident => $component:path),* $(,)?) => {$(
        #[doc = concat!("The lazy route of `", stringify!($component), "`.")]
        pub struct $page;

        #[lazy_route]
        impl LazyRoute for $page {
            fn data() -> Self {
                $page
            }

            fn view(_this: Self) -> AnyView {
                view! { <$component/> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    LoginPage => super::login::LoginPage,
    OverviewPage => super::overview::OverviewPage,
    AlertsPage => super::alerts::AlertsPage,
    AlertPage => super::alert::AlertPage,
    RunsPage => super::runs::RunsPage,
    RunPage => super::run::RunPage,
    PlaybooksPage => super::playbooks::PlaybooksPage,
    ApprovalsPage => super::approvals::ApprovalsPage,
    RulesPage => super::rules::RulesPage,
    WindowsPage => super::windows::WindowsPage,
    AuditPage => super::audit::AuditPage,
    AdminPage => super::admin::AdminPage,
    AccountPage => super::account::AccountPage,
}
