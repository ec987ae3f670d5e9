//! Fuzzing the webhook with proptest, seeded from the real Alertmanager fixtures: JSON-aware
//! mutations (a value replaced by another type, a key removed, a node duplicated, odd strings)
//! and byte-level ones (flips, insertions, deletions, truncation).
//! - 100,000 payloads through the body checks (`read_notification`): no panic, and every
//!   refusal is a clean 400-class error.
//! - 2,000 through the real router and database: never a 5xx, and a refused request writes
//!   nothing (the notification count does not move).
use crate::common;

use std::cell::Cell;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use common::TestApp;
use server::webhook::{read_notification, WebhookError};

const FIXTURES: [&str; 3] = [
    include_str!("../fixtures/alertmanager/alertmanager-webhook-firing.json"),
    include_str!("../fixtures/alertmanager/alertmanager-webhook-resolved.json"),
    include_str!("../fixtures/alertmanager/alertmanager-webhook-firing-service-unhealthy.json"),
];

#[derive(Clone, Debug)]
enum Replacement {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    EmptyArray,
    EmptyObject,
    Long(usize),
    Nested(usize),
}

#[derive(Clone, Debug)]
enum JsonMutation {
    Replace(usize, Replacement),
    RemoveKey(usize),
    Duplicate(usize),
}

#[derive(Clone, Debug)]
enum ByteMutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn replacement() -> impl Strategy<Value = Replacement> {
    prop_oneof![
        Just(Replacement::Null),
        any::<bool>().prop_map(Replacement::Bool),
        any::<i64>().prop_map(Replacement::Int),
        any::<f64>().prop_map(Replacement::Float),
        // Jinja, shell, control characters, dates that are not dates, unicode.
        prop_oneof![
            Just("{{ 7 * 7 }}".to_owned()),
            Just("$(reboot); `id` | rm -rf /".to_owned()),
            Just("line\nbreak\0nul".to_owned()),
            Just("0001-01-01T00:00:00Z".to_owned()),
            Just("2026-13-45T99:99:99Z".to_owned()),
            Just("--limit=all".to_owned()),
            Just("ünïcödé ✓ 🚑".to_owned()),
            any::<String>(),
        ]
        .prop_map(Replacement::Text),
        Just(Replacement::EmptyArray),
        Just(Replacement::EmptyObject),
        (1usize..70_000).prop_map(Replacement::Long),
        (1usize..200).prop_map(Replacement::Nested),
    ]
}

fn json_mutation() -> impl Strategy<Value = JsonMutation> {
    prop_oneof![
        (any::<usize>(), replacement()).prop_map(|(n, r)| JsonMutation::Replace(n, r)),
        any::<usize>().prop_map(JsonMutation::RemoveKey),
        any::<usize>().prop_map(JsonMutation::Duplicate),
    ]
}

fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| ByteMutation::Flip(at, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| ByteMutation::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| ByteMutation::Delete(at, n)),
        any::<usize>().prop_map(ByteMutation::Truncate),
    ]
}

/// A payload: a fixture, a few JSON mutations, then (sometimes) a few byte mutations.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    (
        0..FIXTURES.len(),
        prop::collection::vec(json_mutation(), 0..4),
        prop::collection::vec(byte_mutation(), 0..3),
    )
        .prop_map(|(fixture, json, bytes)| {
            let mut value: Value = serde_json::from_str(FIXTURES[fixture]).unwrap();
            for m in &json {
                apply_json(&mut value, m);
            }
            let mut body = value.to_string().into_bytes();
            for m in &bytes {
                apply_bytes(&mut body, m);
            }
            body
        })
}

fn value_of(r: &Replacement) -> Value {
    match r {
        Replacement::Null => Value::Null,
        Replacement::Bool(b) => (*b).into(),
        Replacement::Int(i) => (*i).into(),
        Replacement::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Replacement::Text(s) => s.clone().into(),
        Replacement::EmptyArray => Value::Array(vec![]),
        Replacement::EmptyObject => Value::Object(Default::default()),
        Replacement::Long(n) => "x".repeat(*n).into(),
        Replacement::Nested(depth) => (0..*depth).fold(Value::Null, |inner, _| Value::Array(vec![inner])),
    }
}

/// Counts the nodes of `v` in depth-first order.
fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`-th node in depth-first order (0 is the root).
fn nth(v: &mut Value, n: usize) -> &mut Value {
    if n == 0 {
        return v;
    }
    let mut rest = n - 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => unreachable!("n is below count(v)"),
    };
    for child in children {
        let size = count(child);
        if rest < size {
            return nth(child, rest);
        }
        rest -= size;
    }
    unreachable!("n is below count(v)")
}

fn apply_json(root: &mut Value, m: &JsonMutation) {
    let total = count(root);
    match m {
        JsonMutation::Replace(n, r) => *nth(root, n % total) = value_of(r),
        JsonMutation::RemoveKey(n) => {
            if let Value::Object(o) = nth(root, n % total) {
                if let Some(key) = o.keys().nth(n % o.len().max(1)).cloned() {
                    o.remove(&key);
                }
            }
        }
        JsonMutation::Duplicate(n) => {
            if let Value::Array(a) = nth(root, n % total) {
                if let Some(first) = a.first().cloned() {
                    a.push(first);
                }
            }
        }
    }
}

fn apply_bytes(body: &mut Vec<u8>, m: &ByteMutation) {
    if body.is_empty() {
        return;
    }
    let len = body.len();
    match m {
        ByteMutation::Flip(at, b) => body[at % len] = *b,
        ByteMutation::Insert(at, bytes) => {
            let at = at % len;
            body.splice(at..at, bytes.iter().copied());
        }
        ByteMutation::Delete(at, n) => {
            let at = at % len;
            body.drain(at..(at + n).min(len));
        }
        ByteMutation::Truncate(at) => body.truncate(at % len),
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

#[test]
fn a_hundred_thousand_mutated_payloads_never_panic_and_are_refused_cleanly() {
    let (accepted, refused) = (Cell::new(0u32), Cell::new(0u32));
    runner(100_000)
        .run(&payload(), |body| {
            match read_notification(&body) {
                Ok((payload, alerts, raw)) => {
                    prop_assert_eq!(alerts.len(), payload.alerts.len());
                    prop_assert_eq!(raw.unpack().unwrap(), &body[..]);
                    accepted.set(accepted.get() + 1);
                }
                Err(WebhookError::BadRequest(message)) => {
                    prop_assert!(!message.is_empty());
                    refused.set(refused.get() + 1);
                }
                Err(other) => prop_assert!(false, "not a 400-class refusal: {other:?}"),
            }
            Ok(())
        })
        .unwrap();
    let (accepted, refused) = (accepted.get(), refused.get());
    eprintln!("fuzzed 100000 payloads: {accepted} accepted, {refused} refused with 400");
    // Both sides exercised, or the generator is broken and the test proves nothing.
    assert!(accepted > 1_000 && refused > 1_000, "accepted {accepted}, refused {refused}");
}

#[test]
fn mutated_payloads_through_the_router_never_5xx_and_refusals_write_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = rt.block_on(TestApp::new());
    let notifications = |app: &TestApp| -> i64 {
        rt.block_on(sqlx::query_scalar("SELECT count(*) FROM notifications").fetch_one(&app.pool)).unwrap()
    };
    let (ok, bad) = (Cell::new(0u32), Cell::new(0u32));
    runner(2_000)
        .run(&payload(), |body| {
            let before = notifications(&app);
            let req = Request::post("/webhook")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, common::basic_auth())
                .body(Body::from(body))
                .unwrap();
            let res = rt.block_on(app.send(req));
            prop_assert!(!res.status.is_server_error(), "{}: {}", res.status, res.body);
            let after = notifications(&app);
            if res.status == StatusCode::OK {
                prop_assert!(after - before <= 1);
                ok.set(ok.get() + 1);
            } else {
                prop_assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
                prop_assert_eq!(after, before, "a refused request wrote a notification");
                bad.set(bad.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    let (ok, bad) = (ok.get(), bad.get());
    eprintln!("router: 2000 mutated payloads, {ok} stored, {bad} refused with 400 and nothing written");
    assert!(ok > 20 && bad > 20, "ok {ok}, bad {bad}");
}
