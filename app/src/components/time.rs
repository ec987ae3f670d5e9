//! Times as people read them: "4 min ago", with the exact UTC time on hover and in the
//! `datetime` attribute (machines and screen readers get the absolute time).
use leptos::prelude::*;

/// How often relative times on a page move on.
const TICK_MS: u64 = 30_000;

/// The clock relative times are measured against: milliseconds since the epoch, moved on every
/// [`TICK_MS`] in the browser. Provided by the shell; a page without it reads the clock once.
#[derive(Clone, Copy, Debug)]
pub struct Now(pub RwSignal<i64>);

/// Provides [`Now`] to everything below and keeps it moving (in the browser).
pub fn provide_now() {
    let now = RwSignal::new(now_ms());
    provide_context(Now(now));
    Effect::new(move |_| {
        let tick = move || now.set(now_ms());
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_millis(TICK_MS)) {
            on_cleanup(move || handle.clear());
        }
    });
}

/// A stored UTC timestamp (`2026-11-22T01:25:10.341Z`), relative to now.
/// How long since `since`, counting every second (a running playbook's elapsed time).
#[component]
pub fn Elapsed(since: String) -> impl IntoView {
    let start = epoch_ms(&since);
    let now = RwSignal::new(now_ms());
    Effect::new(move |_| {
        let tick = move || now.set(now_ms());
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    view! { <span data-testid="elapsed">{move || start.map(|s| format_ms((now.get() - s).max(0)))}</span> }
}

#[component]
pub fn RelTime(at: String) -> impl IntoView {
    let now = use_context::<Now>().map(|n| n.0);
    let then = epoch_ms(&at);
    let title = format!("{} UTC", at.replacen('T', " ", 1).trim_end_matches('Z'));
    let text = {
        let at = at.clone();
        move || match then {
            Some(t) => relative(now.map_or_else(now_ms, |n| n.get()) - t),
            None => at.clone(),
        }
    };
    view! { <time datetime=at title=title>{text}</time> }
}

/// Milliseconds from one stored timestamp to another, when both parse.
pub fn duration_ms(from: &str, to: &str) -> Option<i64> {
    Some(epoch_ms(to)? - epoch_ms(from)?)
}

/// A duration in milliseconds for people: `850 ms`, `4.2 s`, `3.5 min`, `2 h 5 min`,
/// `15 d 2 h` (an alert that fired two weeks ago and healed today is not `21748.6 min`).
pub fn format_ms(ms: i64) -> String {
    let with = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big} {big_unit}")
        } else {
            format!("{big} {big_unit} {small} {small_unit}")
        }
    };
    match ms {
        ..=999 => format!("{ms} ms"),
        1_000..=9_999 => format!("{:.1} s", ms as f64 / 1000.0),
        10_000..=59_999 => format!("{} s", ms / 1000),
        60_000..=3_599_999 => format!("{:.1} min", ms as f64 / 60_000.0),
        3_600_000..=172_799_999 => {
            let minutes = ms / 60_000;
            with(minutes / 60, "h", minutes % 60, "min")
        }
        _ => {
            let hours = ms / 3_600_000;
            with(hours / 24, "d", hours % 24, "h")
        }
    }
}

/// `ago_ms` (negative: in the future) in words: `just now`, `5 min ago`, `3 h ago`, `12 d ago`,
/// `in 2 min`.
pub fn relative(ago_ms: i64) -> String {
    let s = ago_ms.abs() / 1000;
    let amount = match s {
        0..=44 => return "just now".to_owned(),
        45..=5_399 => format!("{} min", ((s + 30) / 60).max(1)),
        5_400..=129_599 => format!("{} h", (s + 1_800) / 3_600),
        _ => format!("{} d", (s + 43_200) / 86_400),
    };
    if ago_ms < 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

#[cfg(feature = "ssr")]
fn epoch_ms(at: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(feature = "ssr")]
fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn epoch_ms(at: &str) -> Option<i64> {
    let ms = js_sys::Date::parse(at);
    ms.is_finite().then_some(ms as i64)
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn epoch_ms(_at: &str) -> Option<i64> {
    None
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn now_ms() -> i64 {
    0
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let min = 60_000;
        let cases = [
            (0, "just now"),
            (44_999, "just now"),
            (45_000, "1 min ago"),
            (5 * min, "5 min ago"),
            (89 * min, "89 min ago"),
            (90 * min, "2 h ago"),
            (35 * 60 * min, "35 h ago"),
            (40 * 60 * min, "2 d ago"),
            (12 * 24 * 60 * min, "12 d ago"),
            (-2 * min, "in 2 min"),
        ];
        for (ms, want) in cases {
            assert_eq!(relative(ms), want, "{ms}");
        }
    }

    #[test]
    fn durations_read_naturally() {
        let cases = [
            (0, "0 ms"),
            (850, "850 ms"),
            (1_000, "1.0 s"),
            (4_250, "4.2 s"),
            (12_345, "12 s"),
            (59_999, "59 s"),
            (210_000, "3.5 min"),
            (3_599_999, "60.0 min"),
            (3_600_000, "1 h"),
            (7_500_000, "2 h 5 min"),
            (172_799_999, "47 h 59 min"),
            (172_800_000, "2 d"),
            (1_304_916_000, "15 d 2 h"),
        ];
        for (ms, want) in cases {
            assert_eq!(format_ms(ms), want, "{ms}");
        }
    }

    #[test]
    fn stored_times_parse_to_epoch_milliseconds() {
        assert_eq!(epoch_ms("1970-01-01T00:00:01.500Z"), Some(1_500));
        assert_eq!(epoch_ms("2026-11-22T01:25:10.341Z"), Some(1_795_310_710_341));
        assert_eq!(epoch_ms("yesterday"), None);
        assert_eq!(duration_ms("2026-11-22T13:33:09.046Z", "2026-11-22T13:33:09.880Z"), Some(834));
        assert_eq!(duration_ms("2026-11-22T13:33:09.046Z", ""), None);
    }
}
