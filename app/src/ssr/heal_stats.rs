//! Figures for the overview, pure: percentiles of time to heal, and the last day hour by hour.
use time::macros::format_description;
use time::{Duration, OffsetDateTime, Time};

use crate::model::HourStat;
use crate::ssr::db::run_stats::HourCounts;

/// Hours on the overview's charts: the current one and the 23 before it.
pub const CHART_HOURS: i64 = 24;

/// The `q`-quantile (0 to 1) of ascending `sorted` values by nearest rank: a value that really
/// occurred, never an interpolation. `None` when there are no values.
pub fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

/// Where the charts begin: the start of the hour [`CHART_HOURS`]` - 1` hours before `now`'s.
pub fn window_start(now: OffsetDateTime) -> OffsetDateTime {
    let this_hour =
        now.to_offset(time::UtcOffset::UTC).replace_time(Time::MIDNIGHT) + Duration::hours(now.hour().into());
    this_hour - Duration::hours(CHART_HOURS - 1)
}

/// An hour as the database groups it: `YYYY-MM-DDTHH` (UTC).
fn hour_key(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day]T[hour]")).unwrap_or_default()
}

/// Every hour from `start` on ([`CHART_HOURS`] of them), oldest first: its runs by outcome and
/// the median and 95th percentile of its times to heal. Hours with no run are there, empty.
pub fn hourly(
    start: OffsetDateTime,
    counts: &[HourCounts],
    times_to_heal: &[(String, i64)],
) -> Vec<HourStat> {
    (0..CHART_HOURS)
        .map(|i| {
            let hour = hour_key(start + Duration::hours(i));
            let c = counts.iter().find(|c| c.hour == hour);
            let mut tth: Vec<i64> =
                times_to_heal.iter().filter(|(h, _)| *h == hour).map(|(_, ms)| *ms).collect();
            tth.sort_unstable();
            HourStat {
                runs: c.map_or(0, |c| c.runs),
                verified: c.map_or(0, |c| c.verified),
                failed: c.map_or(0, |c| c.failed),
                tth_p50_ms: percentile(&tth, 0.5),
                tth_p95_ms: percentile(&tth, 0.95),
                hour,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn percentiles_are_values_that_occurred() {
        let cases: &[(&str, &[i64], f64, Option<i64>)] = &[
            ("empty", &[], 0.5, None),
            ("one value", &[7], 0.95, Some(7)),
            ("median of four is the second", &[1, 2, 3, 4], 0.5, Some(2)),
            ("median of five", &[1, 2, 3, 4, 5], 0.5, Some(3)),
            ("p95 of twenty is the nineteenth", &(1..=20).collect::<Vec<_>>(), 0.95, Some(19)),
            ("p95 of a hundred", &(1..=100).collect::<Vec<_>>(), 0.95, Some(95)),
            ("q = 0 is the least", &[3, 9], 0.0, Some(3)),
            ("q = 1 is the most", &[3, 9], 1.0, Some(9)),
        ];
        for (name, values, q, want) in cases {
            assert_eq!(percentile(values, *q), *want, "{name}");
        }
    }

    #[test]
    fn the_window_is_the_current_hour_and_the_23_before() {
        assert_eq!(window_start(datetime!(2026-11-22 13:47:05 UTC)), datetime!(2026-11-21 14:00 UTC));
        assert_eq!(window_start(datetime!(2026-11-22 00:00:00 UTC)), datetime!(2026-11-21 01:00 UTC));
    }

    #[test]
    fn every_hour_is_there_with_its_counts_and_percentiles() {
        let start = datetime!(2026-11-21 14:00 UTC);
        let counts = vec![
            HourCounts { hour: "2026-11-21T14".into(), runs: 3, verified: 2, failed: 1 },
            HourCounts { hour: "2026-11-22T13".into(), runs: 1, verified: 0, failed: 0 },
        ];
        let tth = vec![
            ("2026-11-21T14".into(), 9000),
            ("2026-11-21T14".into(), 3000),
            ("2026-11-22T02".into(), 500),
        ];
        let hours = hourly(start, &counts, &tth);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[0].hour, "2026-11-21T14");
        assert_eq!((hours[0].runs, hours[0].verified, hours[0].failed), (3, 2, 1));
        assert_eq!((hours[0].tth_p50_ms, hours[0].tth_p95_ms), (Some(3000), Some(9000)));
        assert_eq!(hours[12].hour, "2026-11-22T02");
        assert_eq!((hours[12].runs, hours[12].tth_p50_ms), (0, Some(500)));
        assert_eq!(hours[23].hour, "2026-11-22T13");
        assert_eq!((hours[23].runs, hours[23].tth_p95_ms), (1, None));
        assert!(hours[1..12].iter().all(|h| h.runs == 0 && h.tth_p50_ms.is_none()));
    }
}
