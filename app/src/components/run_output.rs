//! A run's playbook output: one page of lines at a time (links to earlier, later and the last
//! lines work before hydration), the new lines of a live run appended as they arrive (no
//! reload), auto-scroll that pauses while the reader scrolls up, and search.
use crate::components::load::{load, Loaded};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::run_output::{search_run_output, SEARCH_LIMIT};
use crate::api::runs::{get_run_output, OUTPUT_PAGE_SIZE};
use crate::components::live::use_live;
use crate::model::{OutputLineView, Topic};

/// Most live lines kept on the page after the first page: older ones are dropped from view
/// (still stored, a page away), so a run printing for hours never slows the tab.
const MAX_LIVE_LINES: usize = 5_000;

/// Lines shown before a search hit when jumping to it.
const CONTEXT_LINES: i64 = 20;

/// Within this many pixels of the bottom counts as "at the bottom" (follow the output).
const BOTTOM_SLACK: i32 = 8;

/// The output of run `run_id`, which has `total` lines stored so far and is `live` while it
/// may print more.
#[component]
pub fn RunOutput(run_id: i64, live: Signal<bool>, total: Signal<i64>) -> impl IntoView {
    let query = use_query_map();
    let from =
        Memo::new(move |_| query.read().get("from").and_then(|v| v.parse::<i64>().ok()).unwrap_or(1).max(1));
    let search =
        Memo::new(move |_| query.read().get("q").map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()));
    let page = load(move || (run_id, from.get()), |(id, from)| get_run_output(id, from - 1));
    let hits = load(
        move || search.get().map(|q| (run_id, q)),
        |key| async move {
            match key {
                Some((id, q)) => search_run_output(id, q).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let live_lines = RwSignal::new(Vec::<OutputLineView>::new());
    let dropped = RwSignal::new(0usize);
    let follow = RwSignal::new(true);
    let pre = NodeRef::<leptos::html::Pre>::new();
    follow_live_output(run_id, live, page, live_lines, dropped);

    let scroll_to_end = move || {
        if let Some(el) = pre.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    // New lines arrived (or the page loaded): keep the end in view while following.
    Effect::new(move |_| {
        live_lines.with(Vec::len);
        page.track();
        if follow.get_untracked() && live.get_untracked() {
            scroll_to_end();
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = pre.get_untracked() {
            follow.set(el.scroll_top() + el.client_height() >= el.scroll_height() - BOTTOM_SLACK);
        }
    };

    view! {
        <div class="output-head">
            <h2>"Output"</h2>
            <form method="get" class="output-search" role="search">
                <input type="search" name="q" placeholder="search this output" aria-label="Search the output"
                    prop:value=move || search.get().unwrap_or_default()/>
                <button type="submit" class="btn btn-small">"Search"</button>
            </form>
        </div>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match hits.await {
                    Ok(Some(lines)) => view! { <SearchHits lines/> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="muted">"Loading output…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    Ok(lines) => {
                        let last = lines.last().map_or(from.get_untracked() - 1, |l| l.seq);
                        let full = lines.len() as i64 == OUTPUT_PAGE_SIZE;
                        let none = lines.is_empty();
                        view! {
                            <PageLinks from=from.get_untracked() last full total/>
                            {move || (none && live_lines.with(Vec::is_empty)).then(|| view! {
                                <p class="muted">{if live.get() { "No output yet." } else { "No output." }}</p>
                            })}
                            <pre class="output" data-testid="run-output" node_ref=pre on:scroll=on_scroll>
                                {lines.into_iter().map(line_view).collect_view()}
                                {move || (dropped.get() > 0).then(|| view! {
                                    <span class="line line-system">{format!("… {} earlier live lines not shown here; page through them above …\n", dropped.get())}</span>
                                })}
                                <For each=move || live_lines.get() key=|l| l.seq children=line_view/>
                            </pre>
                        }.into_any()
                    }
                }
            })}
        </Transition>
        {move || (live.get() && !follow.get()).then(|| view! {
            <button type="button" class="btn btn-small follow" data-testid="follow"
                on:click=move |_| { follow.set(true); scroll_to_end(); }>
                "Auto-scroll paused — follow the output"
            </button>
        })}
    }
}

/// Whenever output or a run changed (the server's news), asks for the lines after the last
/// one shown and appends them (one request at a time; news during a request asks once more
/// after it), keeping at most [`MAX_LIVE_LINES`]. A page at the end of the output asks once
/// when it loads (the run may have printed since), and a finished run's page stops asking
/// once it has the last lines; a full page of a finished run never asks (the next lines are a
/// link away).
fn follow_live_output(
    run_id: i64,
    live: Signal<bool>,
    page: Loaded<Result<Vec<OutputLineView>, crate::error::AppError>>,
    live_lines: RwSignal<Vec<OutputLineView>>,
    dropped: RwSignal<usize>,
) {
    let tail = Tail {
        run_id,
        live,
        page,
        live_lines,
        dropped,
        busy: StoredValue::new(false),
        again: StoredValue::new(false),
        settled: StoredValue::new(false),
    };
    // A different page starts over.
    Effect::new(move |_| {
        page.track();
        live_lines.set(Vec::new());
        dropped.set(0);
        tail.settled.set_value(false);
    });
    let news = use_live();
    Effect::new(move |_| {
        news.track(&[Topic::Output, Topic::Runs]);
        page.track();
        tail.ask();
    });
}

/// What following a run's output needs (all handles, so it is `Copy`).
#[derive(Clone, Copy)]
struct Tail {
    run_id: i64,
    live: Signal<bool>,
    page: Loaded<Result<Vec<OutputLineView>, crate::error::AppError>>,
    live_lines: RwSignal<Vec<OutputLineView>>,
    dropped: RwSignal<usize>,
    /// A request is out.
    busy: StoredValue<bool>,
    /// News came while a request was out: ask again after it.
    again: StoredValue<bool>,
    /// The run has ended and its last lines are shown.
    settled: StoredValue<bool>,
}

impl Tail {
    fn ask(self) {
        let live_now = self.live.get_untracked();
        let Some(Ok(first)) = self.page.get_untracked() else { return };
        let at_tail =
            (first.len() as i64) < OUTPUT_PAGE_SIZE || self.live_lines.with_untracked(|l| !l.is_empty());
        if self.settled.get_value() || !(live_now || at_tail) {
            return;
        }
        if self.busy.get_value() {
            self.again.set_value(true);
            return;
        }
        let after = self
            .live_lines
            .with_untracked(|l| l.last().map(|l| l.seq))
            .or_else(|| first.last().map(|l| l.seq))
            .unwrap_or(0);
        self.busy.set_value(true);
        leptos::task::spawn_local(async move {
            if let Ok(new) = get_run_output(self.run_id, after).await {
                // Ended before this request, and it got the rest: nothing more will come.
                if !live_now && (new.len() as i64) < OUTPUT_PAGE_SIZE {
                    self.settled.set_value(true);
                }
                if !new.is_empty() {
                    self.live_lines.update(|l| {
                        l.extend(new);
                        let over = l.len().saturating_sub(MAX_LIVE_LINES);
                        l.drain(..over);
                        self.dropped.update(|d| *d += over);
                    });
                }
            }
            self.busy.set_value(false);
            if self.again.get_value() {
                self.again.set_value(false);
                self.ask();
            }
        });
    }
}

fn line_view(l: OutputLineView) -> impl IntoView {
    let kind = crate::model::line_kind(&l.line);
    view! {
        <span class=format!("line line-{} line-{kind}", l.stream) id=format!("L{}", l.seq)>
            <span class="ln" aria-hidden="true">{l.seq}</span>{l.line}"\n"
        </span>
    }
}

/// Earlier / later / last lines, as plain links.
#[component]
fn PageLinks(from: i64, last: i64, full: bool, total: Signal<i64>) -> impl IntoView {
    let earlier = (from > 1).then(|| (from - OUTPUT_PAGE_SIZE).max(1));
    let later = full.then_some(last + 1);
    let shown = move || {
        let total = total.get();
        if last >= from {
            format!("lines {from}–{last} of {total}")
        } else {
            format!("{total} lines")
        }
    };
    let tail = move || {
        let total = total.get();
        (full && total > last).then(|| (total - OUTPUT_PAGE_SIZE + 1).max(1))
    };
    view! {
        <nav class="output-pages" aria-label="Output pages">
            <span class="muted">{shown}</span>
            {earlier.map(|f| view! { <a href=format!("?from={f}")>"← earlier"</a> })}
            {later.map(|f| view! { <a href=format!("?from={f}") data-testid="output-later">"later →"</a> })}
            {move || tail().map(|f| view! { <a href=format!("?from={f}") data-testid="output-last">"last lines ⇥"</a> })}
        </nav>
    }
}

/// Search results: each a link to its line in context.
#[component]
fn SearchHits(lines: Vec<OutputLineView>) -> impl IntoView {
    let n = lines.len();
    let more = if n as i64 == SEARCH_LIMIT { " (the first ones; refine the search for others)" } else { "" };
    view! {
        <div class="card search-hits" data-testid="search-hits">
            <p><strong>{format!("{n} matching line{}", if n == 1 { "" } else { "s" })}</strong>{more}</p>
            <ol>
                {lines.into_iter().map(|l| {
                    let href = format!("?from={}#L{}", (l.seq - CONTEXT_LINES).max(1), l.seq);
                    view! { <li><a href=href><span class="ln">{l.seq}</span></a><code>{l.line}</code></li> }
                }).collect_view()}
            </ol>
        </div>
    }
}
