//! The overview's two charts as inline SVG, rendered to HTML on the server only (the overview
//! server function sends the markup; none of this is in the wasm bundle, and no script is needed
//! to see them): heals per hour by outcome, and time to heal per hour. Each bar carries a
//! `<title>` (the hover text and what a screen reader reads), and the legend names each colour,
//! so no figure depends on colour alone.
use leptos::prelude::*;

use crate::components::time::format_ms;
use crate::model::{HourStat, Verification};

/// The heals-per-hour chart as HTML.
pub fn heals_html(hours: &[HourStat]) -> String {
    view! { <HealsChart hours=hours.to_vec()/> }.to_html()
}

/// The time-to-heal chart as HTML.
pub fn time_to_heal_html(hours: &[HourStat]) -> String {
    view! { <TimeToHealChart hours=hours.to_vec()/> }.to_html()
}

/// Drawing area, in SVG user units (the SVG scales to its container).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 170.0;
/// Room for the y axis labels on the left and the hour labels below.
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 8.0;
/// Gap between two bars.
const GAP: f64 = 3.0;
/// An hour label every this many bars.
const LABEL_EVERY: usize = 6;

/// `2026-11-22T13` → `13:00`.
fn hour_label(hour: &str) -> String {
    format!("{}:00", hour.get(11..13).unwrap_or("??"))
}

/// A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|v| *v >= max).unwrap_or(max)
}

/// Where bar `i` of `n` starts and how wide it is.
fn bar_x(i: usize, n: usize) -> (f64, f64) {
    let slot = (WIDTH - LEFT) / n.max(1) as f64;
    (LEFT + i as f64 * slot + GAP / 2.0, (slot - GAP).max(1.0))
}

/// Height in user units of `value` on an axis topped at `ceiling`.
fn scaled(value: f64, ceiling: f64) -> f64 {
    (value / ceiling) * (HEIGHT - BOTTOM - TOP)
}

/// The frame shared by both charts: horizontal grid lines with their labels and hour labels.
fn axes(hours: &[HourStat], ceiling: f64, label: impl Fn(f64) -> String) -> impl IntoView {
    let base = HEIGHT - BOTTOM;
    let grid = [0.0, 0.5, 1.0].map(|f| {
        let y = base - scaled(f * ceiling, ceiling);
        view! {
            <line class="chart-grid" x1=LEFT x2=WIDTH y1=y y2=y/>
            <text class="chart-label" x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{label(f * ceiling)}</text>
        }
    });
    let n = hours.len();
    let ticks = hours
        .iter()
        .enumerate()
        .filter(|(i, _)| i % LABEL_EVERY == 0)
        .map(|(i, h)| {
            let (x, w) = bar_x(i, n);
            view! { <text class="chart-label" x=x + w / 2.0 y=HEIGHT - 5.0 text-anchor="middle">{hour_label(&h.hour)}</text> }
        })
        .collect_view();
    view! { <g>{grid.into_iter().collect_view()}{ticks}</g> }
}

/// Heals per hour, each bar split into verified, failed or not fixed, and the rest (running,
/// cancelled, not verified).
#[component]
pub fn HealsChart(hours: Vec<HourStat>) -> impl IntoView {
    let total: i64 = hours.iter().map(|h| h.runs).sum();
    let ceiling = nice_ceiling(hours.iter().map(|h| h.runs).max().unwrap_or(0) as f64);
    let n = hours.len();
    let base = HEIGHT - BOTTOM;
    let bars = hours
        .iter()
        .enumerate()
        .filter(|(_, h)| h.runs > 0)
        .map(|(i, h)| {
            let (x, w) = bar_x(i, n);
            let other = (h.runs - h.verified - h.failed).max(0);
            let mut y = base;
            let mut segment = |count: i64, class: &'static str| {
                let height = scaled(count as f64, ceiling);
                y -= height;
                (count > 0).then(|| view! { <rect class=class x=x y=y width=w height=height/> })
            };
            let parts =
                (segment(h.verified, "bar-ok"), segment(h.failed, "bar-bad"), segment(other, "bar-other"));
            let title = format!(
                "{} UTC: {} heals, {} verified, {} failed or not fixed, {} other",
                hour_label(&h.hour),
                h.runs,
                h.verified,
                h.failed,
                other
            );
            view! { <g class="bar"><title>{title}</title>{parts}</g> }
        })
        .collect_view();
    let summary = format!("Heals per hour over the last 24 hours: {total} in all.");
    view! {
        <figure class="card chart" data-testid="heals-chart">
            <figcaption>
                <span>"Heals per hour"</span>
                <span class="legend">
                    <span class="key key-ok">{Verification::Verified.as_str()}</span>
                    <span class="key key-bad">"failed or not fixed"</span>
                    <span class="key key-other">"other"</span>
                </span>
            </figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=summary>
                {axes(&hours, ceiling, |v| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") })}
                {bars}
            </svg>
        </figure>
    }
}

/// Time to heal per hour: a light bar up to the 95th percentile, a dark one up to the median.
#[component]
pub fn TimeToHealChart(hours: Vec<HourStat>) -> impl IntoView {
    let max = hours.iter().filter_map(|h| h.tth_p95_ms).max().unwrap_or(0);
    let ceiling = nice_ceiling(max as f64);
    let n = hours.len();
    let base = HEIGHT - BOTTOM;
    let bars = hours
        .iter()
        .enumerate()
        .filter_map(|(i, h)| Some((i, h, h.tth_p50_ms?, h.tth_p95_ms?)))
        .map(|(i, h, p50, p95)| {
            let (x, w) = bar_x(i, n);
            let (h95, h50) = (scaled(p95 as f64, ceiling), scaled(p50 as f64, ceiling));
            let title =
                format!("{} UTC: median {}, p95 {}", hour_label(&h.hour), format_ms(p50), format_ms(p95));
            view! {
                <g class="bar">
                    <title>{title}</title>
                    <rect class="bar-p95" x=x y=base - h95 width=w height=h95/>
                    <rect class="bar-p50" x=x y=base - h50 width=w height=h50/>
                </g>
            }
        })
        .collect_view();
    let summary = format!(
        "Time to heal per hour over the last 24 hours; the slowest hour's p95 is {}.",
        format_ms(max)
    );
    view! {
        <figure class="card chart" data-testid="tth-chart">
            <figcaption>
                <span>"Time to heal (alert start → verified)"</span>
                <span class="legend">
                    <span class="key key-p50">"median"</span>
                    <span class="key key-p95">"p95"</span>
                </span>
            </figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=summary>
                {axes(&hours, ceiling, |v| if v == 0.0 { "0".to_owned() } else { format_ms(v as i64) })}
                {bars}
            </svg>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers_at_or_above_the_largest_value() {
        let cases = [
            (0.0, 1.0),
            (1.0, 1.0),
            (3.0, 5.0),
            (7.0, 10.0),
            (12.0, 20.0),
            (45_000.0, 50_000.0),
            (100.0, 100.0),
        ];
        for (max, want) in cases {
            assert_eq!(nice_ceiling(max), want, "{max}");
        }
    }

    #[test]
    fn the_charts_render_to_html_with_a_bar_per_hour_that_had_runs() {
        let hour = |h: u32, runs| HourStat {
            hour: format!("2026-11-22T{h:02}"),
            runs,
            verified: runs,
            failed: 0,
            tth_p50_ms: (runs > 0).then_some(1_000),
            tth_p95_ms: (runs > 0).then_some(2_000),
        };
        let hours: Vec<HourStat> = (0..24).map(|h| hour(h, if h % 2 == 0 { 3 } else { 0 })).collect();
        let heals = heals_html(&hours);
        assert!(heals.starts_with("<figure") && heals.contains("<svg"), "{heals}");
        assert_eq!(heals.matches("<g class=\"bar\"").count(), 12);
        assert!(heals.contains("02:00 UTC: 3 heals, 3 verified"));
        assert_eq!(time_to_heal_html(&hours).matches("class=\"bar-p50\"").count(), 12);
    }

    #[test]
    fn bars_fill_the_width_without_overlapping() {
        let (first, w) = bar_x(0, 24);
        let (last, w_last) = bar_x(23, 24);
        assert!(first >= LEFT && w > 0.0);
        assert!((last + w_last + GAP / 2.0 - WIDTH).abs() < 1e-9);
        let (second, _) = bar_x(1, 24);
        assert!(first + w < second);
    }
}
