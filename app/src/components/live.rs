//! Live pages: the shell opens one `EventSource` on `/api/events`; each message names the kinds
//! of data that changed, and bumps one counter per kind. A page puts the counters of what it
//! shows into its resources' sources (`live.track(&[Topic::Runs])`), so it asks again exactly
//! when that changed, and never when nothing did. Server-rendered pages carry the same
//! counters (all zero), so hydration matches.
use leptos::prelude::*;

use crate::model::Topic;

/// One counter per topic, shared through context by the shell.
#[derive(Clone, Copy, Debug)]
pub struct Live {
    versions: [RwSignal<u64>; Topic::ALL.len()],
}

impl Live {
    fn new() -> Live {
        Live { versions: std::array::from_fn(|_| RwSignal::new(0)) }
    }

    /// Subscribes the caller to `topics`: returns a number that moves whenever one changed.
    pub fn track(self, topics: &[Topic]) -> u64 {
        topics.iter().map(|t| self.versions[t.index()].get()).fold(0, u64::wrapping_add)
    }

    /// Marks `topic` changed.
    pub fn bump(self, topic: Topic) {
        self.versions[topic.index()].update(|v| *v = v.wrapping_add(1));
    }
}

/// The page's live counters (a lone page outside the shell gets counters that never move).
pub fn use_live() -> Live {
    use_context::<Live>().unwrap_or_else(Live::new)
}

/// Called once by the shell: provides the counters and, in the browser, follows the stream.
pub fn provide_live() -> Live {
    let live = Live::new();
    provide_context(live);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::follow(live));
    live
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use super::Live;
    use crate::model::Topic;

    /// Where the server's stream is.
    const EVENTS_URL: &str = "/api/events";

    /// Opens the stream; closed when the shell goes (a logout, say). The browser reconnects
    /// by itself after a break and sends the last message's id back (`Last-Event-ID`): the
    /// server's first `change` then names what changed in between (everything, if the server
    /// restarted), so nothing is missed and nothing unchanged is asked again.
    pub fn follow(live: Live) {
        let Ok(source) = EventSource::new(EVENTS_URL) else { return };
        let on_change = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data().as_string().unwrap_or_default();
            for topic in data.split_whitespace().filter_map(Topic::parse) {
                live.bump(topic);
            }
        });
        let _ = source.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
        // Leaving the page closes the stream: a page kept in the back/forward cache held its
        // stream open, and six such pages took every connection the browser allows to one
        // server over HTTP/1.1 (the next page waited a minute for a socket). Back on such a
        // page, it loads afresh (its stream and its data are stale).
        let closing = source.clone();
        let on_hide = Closure::<dyn FnMut()>::new(move || closing.close());
        let on_show =
            Closure::<dyn FnMut(web_sys::PageTransitionEvent)>::new(|e: web_sys::PageTransitionEvent| {
                if e.persisted() {
                    let _ = window().location().reload();
                }
            });
        let _ = window().add_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref());
        let _ = window().add_event_listener_with_callback("pageshow", on_show.as_ref().unchecked_ref());
        let held = SendWrapper::new((source, on_change, on_hide, on_show));
        on_cleanup(move || {
            let (source, _, on_hide, on_show) = &*held;
            source.close();
            let _ =
                window().remove_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref());
            let _ =
                window().remove_event_listener_with_callback("pageshow", on_show.as_ref().unchecked_ref());
        });
    }
}
