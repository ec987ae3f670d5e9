//! Guards: PromQL a rule requires to hold (return a sample) at decision time — "the upstream is
//! up", "the error budget burns slower than 2", "fewer than 3 nodes of this job are down". Pure:
//! a guard's query is rendered from the alert's labels here, asked elsewhere (the server asks
//! Prometheus before storing), and the answers weighed here ([`verdict`]). A guard that failed
//! skips with `guard_failed`, one nobody could answer with `guard_unknown`: never runs blind.
//!
//! A guard may name the alert's labels as `{{ $labels.NAME }}`, inside a quoted PromQL string
//! only (`up{job="{{ $labels.job }}"}`): the value is escaped for that string, so a label can
//! never change the query's shape.
use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{Prejudged, Skip, SkipReason};

/// A guard as configured: `[[rules.guard]] name = "upstream up" expr = 'up{job="api"} == 1'`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    pub name: String,
    pub expr: String,
}

/// What Prometheus said to a guard's query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuardAnswer {
    /// A sample (or a non-zero scalar): the guard holds.
    Holds,
    /// No sample: the guard failed.
    Fails,
    /// No answer (unreachable, refused, timed out), and why.
    Unknown(String),
}

/// Answers by rendered query: one question per query, however many alerts ask it.
pub type GuardAnswers = BTreeMap<String, GuardAnswer>;

/// No answers (nothing was asked).
pub static NO_ANSWERS: GuardAnswers = BTreeMap::new();

/// One guard of a plan: its name, its query for this alert (or why there is none), and the
/// answer once asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    pub name: String,
    pub query: Result<String, String>,
    pub answer: Option<GuardAnswer>,
}

/// A piece of a guard's expression: text as written, or a label's value inside a string quoted
/// with `quote`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Label { name: String, quote: char },
}

/// A guard checked at load: its expression cut at the label placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardTemplate {
    name: String,
    pieces: Vec<Piece>,
}

impl GuardTemplate {
    /// Checks a configured guard: a name, an expression, placeholders well formed and inside
    /// a `"` or `'` string (a raw `` ` `` string cannot escape, and outside a string a value
    /// would be PromQL).
    pub fn parse(config: &GuardConfig) -> Result<GuardTemplate, String> {
        let name = config.name.trim();
        if name.is_empty() {
            return Err("a guard needs a name".to_owned());
        }
        if config.expr.trim().is_empty() {
            return Err(format!("guard `{name}`: expr must not be empty"));
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut rest = config.expr.as_str();
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("{{") {
                let end = rest.find("}}").ok_or_else(|| format!("guard `{name}`: `{{{{` without `}}}}`"))?;
                let inner = rest[2..end].trim();
                let label = inner.strip_prefix("$labels.").filter(|l| is_label_name(l)).ok_or_else(|| {
                    format!("guard `{name}`: `{{{{{inner}}}}}` is not `{{{{ $labels.NAME }}}}`")
                })?;
                let quote = quote.filter(|q| *q != '`').ok_or_else(|| {
                    format!(
                        "guard `{name}`: `{{{{ $labels.{label} }}}}` must be inside a \"…\" or '…' string"
                    )
                })?;
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Label { name: label.to_owned(), quote });
                rest = &rest[end + 2..];
                continue;
            }
            text.push(c);
            rest = &rest[c.len_utf8()..];
            match quote {
                Some(_) if escaped => escaped = false,
                Some(q) if c == '\\' && q != '`' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if matches!(c, '"' | '\'' | '`') => quote = Some(c),
                None => {}
            }
        }
        if quote.is_some() {
            return Err(format!("guard `{name}`: a string is not closed"));
        }
        pieces.push(Piece::Text(text));
        pieces.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
        Ok(GuardTemplate { name: name.to_owned(), pieces })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The query for an alert with `labels`: each placeholder becomes the label's value,
    /// escaped for its string. A missing label leaves the guard without a query.
    pub fn render(&self, labels: &BTreeMap<String, String>) -> Guard {
        let mut query = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => query.push_str(t),
                Piece::Label { name, quote } => match labels.get(name) {
                    Some(value) => escape_into(&mut query, value, *quote),
                    None => {
                        let why = format!("the alert has no label `{name}` for its query");
                        return Guard { name: self.name.clone(), query: Err(why), answer: None };
                    }
                },
            }
        }
        Guard { name: self.name.clone(), query: Ok(query), answer: None }
    }
}

/// PromQL's label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `value` as the inside of a PromQL string quoted with `quote` (Go's escapes).
fn escape_into(out: &mut String, value: &str, quote: char) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
}

/// The queries still to ask for `verdicts` (each once).
pub fn pending_queries<'v>(verdicts: impl IntoIterator<Item = &'v Prejudged>) -> BTreeSet<String> {
    let mut queries = BTreeSet::new();
    for verdict in verdicts {
        if let Prejudged::Check { guards, .. } = verdict {
            for g in guards.iter().filter(|g| g.answer.is_none()) {
                if let Ok(q) = &g.query {
                    queries.insert(q.clone());
                }
            }
        }
    }
    queries
}

/// Gives `verdict`'s guards their answers from `answers`, where it has them.
pub fn fill(verdict: &mut Prejudged, answers: &GuardAnswers) {
    if let Prejudged::Check { guards, .. } = verdict {
        for g in guards.iter_mut().filter(|g| g.answer.is_none()) {
            if let Ok(q) = &g.query {
                g.answer = answers.get(q).cloned();
            }
        }
    }
}

/// What a plan's guards decide, in the order configured: `None` when every one holds; else
/// the first that does not: failed (`guard_failed`), or unanswered (`guard_unknown`: no query
/// for this alert, Prometheus did not answer, or nobody asked).
pub fn verdict(guards: &[Guard]) -> Option<Skip> {
    guards.iter().find_map(|g| {
        let unknown = |why: &str| Skip {
            reason: SkipReason::GuardUnknown,
            detail: format!("guard_unknown:{} — {why}; nothing runs blind", g.name),
        };
        match (&g.query, &g.answer) {
            (Ok(_), Some(GuardAnswer::Holds)) => None,
            (Ok(q), Some(GuardAnswer::Fails)) => Some(Skip {
                reason: SkipReason::GuardFailed,
                detail: format!("guard_failed:{} — `{q}` returned no sample", g.name),
            }),
            (Ok(_), Some(GuardAnswer::Unknown(why))) => Some(unknown(why)),
            (Ok(_), None) => {
                Some(unknown("Prometheus was not asked (decided after a restart or a rules reload)"))
            }
            (Err(why), _) => Some(unknown(why)),
        }
    })
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
