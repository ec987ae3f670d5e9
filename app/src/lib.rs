//! selfheal's web application: Leptos components and server functions shared by the server
//! (feature `ssr`) and the browser bundle (feature `hydrate`).
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

/// Entry point of the wasm bundle: attaches the already server-rendered page, once the code of
/// the page it shows (its lazy route's part of the bundle) has arrived.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panics go to the console, and are kept in `window.__selfheal_panic` so the browser tests
    // fail on them (a hydration panic otherwise shows only in the console).
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        // A page's part of the bundle could not be fetched (wasm_split's loader panics): most
        // often a new build replaced the folder this page came from while it was open. Going
        // to the page asked for loads it with the new build.
        if info.to_string().contains("load callback should succeed") {
            let location = leptos::prelude::window().location();
            let target =
                js_sys::Reflect::get(&js_sys::global(), &app::TARGET.into()).ok().and_then(|t| t.as_string());
            let _ = match target {
                Some(target) => location.assign(&target),
                None => location.reload(),
            };
        }
        let _ = js_sys::Reflect::set(&js_sys::global(), &"__selfheal_panic".into(), &info.to_string().into());
    }));
    // What `hydrate_lazy` does, and then the mark the browser tests wait for: the shell hydrates
    // at once, the shown page once its part of the bundle is in, so only the end of it all
    // says the page is live (a mark set by the shell itself came before the page was, and
    // typing then was undone by the page's hydration).
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document().body().expect("the page has a body");
        leptos::mount::hydrate_from_async(body, app::App).await.forget();
        if let Some(app) = leptos::prelude::document().get_element_by_id("app") {
            let _ = app.set_attribute("data-hydrated", "true");
        }
    });
}
