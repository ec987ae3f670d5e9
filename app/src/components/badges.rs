//! Status words with a colour and a symbol (never colour alone).
use leptos::prelude::*;

use crate::model::{RunStatus, Tone, Verification};

/// What a badge shows: a word and its tone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Badge {
    word: String,
    tone: Tone,
}

impl From<RunStatus> for Badge {
    fn from(s: RunStatus) -> Badge {
        Badge { word: s.as_str().to_owned(), tone: s.tone() }
    }
}

impl From<Verification> for Badge {
    fn from(v: Verification) -> Badge {
        Badge { word: v.as_str().to_owned(), tone: v.tone() }
    }
}

/// An alert's status (`firing` or `resolved`).
impl From<String> for Badge {
    fn from(status: String) -> Badge {
        let tone = match status.as_str() {
            "firing" => Tone::Bad,
            "resolved" => Tone::Ok,
            _ => Tone::Neutral,
        };
        Badge { word: status, tone }
    }
}

/// A run status, a verification verdict or an alert status as a badge.
#[component]
pub fn StatusBadge(#[prop(into)] status: Badge) -> impl IntoView {
    let (symbol, tone) = match status.tone {
        Tone::Ok => ("✓", "ok"),
        Tone::Bad => ("✗", "bad"),
        Tone::Busy => ("…", "busy"),
        Tone::Neutral => ("•", "neutral"),
    };
    view! { <span class=format!("badge tone-{tone}")>{symbol}" "{status.word.replace('_', " ")}</span> }
}
