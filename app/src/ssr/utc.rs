//! Instants as selfheal stores and compares them: UTC, milliseconds, fixed width
//! (`2026-11-22T01:25:10.341Z`), so that text order is time order. Formatting cannot fail: an
//! instant before year 0 reads as the first instant of year 0 (earlier than anything stored),
//! and arithmetic saturates rather than panicking.
use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// An instant in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utc(OffsetDateTime);

impl Utc {
    /// Now.
    pub fn now() -> Utc {
        Utc(OffsetDateTime::now_utc())
    }

    /// `t`, in UTC.
    pub fn at(t: OffsetDateTime) -> Utc {
        Utc(t.to_offset(UtcOffset::UTC))
    }

    /// An RFC 3339 time, with any offset.
    pub fn parse(text: &str) -> Result<Utc, String> {
        OffsetDateTime::parse(text.trim(), &Rfc3339)
            .map(Utc::at)
            .map_err(|e| format!("`{text}` is not an RFC 3339 time ({e})"))
    }

    /// The instant, for arithmetic and comparisons with other times.
    pub fn time(self) -> OffsetDateTime {
        self.0
    }

    /// `by` earlier; the earliest instant if that is before it.
    pub fn minus(self, by: std::time::Duration) -> Utc {
        let earliest = Utc(PrimitiveDateTime::MIN.assume_utc());
        time::Duration::try_from(by).ok().and_then(|d| self.0.checked_sub(d)).map_or(earliest, Utc)
    }

    /// `by` later; the latest instant if that is after it.
    pub fn plus(self, by: std::time::Duration) -> Utc {
        let latest = Utc(PrimitiveDateTime::MAX.assume_utc());
        time::Duration::try_from(by).ok().and_then(|d| self.0.checked_add(d)).map_or(latest, Utc)
    }
}

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = if self.0.year() < 0 {
            PrimitiveDateTime::new(
                Date::from_calendar_date(0, Month::January, 1).unwrap_or(Date::MIN),
                Time::MIDNIGHT,
            )
            .assume_utc()
        } else {
            self.0
        };
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn stored_form_is_fixed_width_utc_milliseconds() {
        let t = Utc::parse("2026-11-22T02:25:10.341987+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T01:25:10.341Z");
        assert_eq!(Utc::parse("0001-01-01T00:00:00Z").unwrap().to_string(), "0001-01-01T00:00:00.000Z");
        assert!(Utc::parse("yesterday").unwrap_err().contains("not an RFC 3339 time"));
    }

    #[test]
    fn arithmetic_saturates_and_the_earliest_reads_as_year_zero() {
        let t = Utc::parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(t.minus(Duration::from_secs(90)).to_string(), "2025-12-31T23:58:30.000Z");
        assert_eq!(t.plus(Duration::from_millis(1500)).to_string(), "2026-01-01T00:00:01.500Z");
        let forever = Duration::from_secs(u64::MAX);
        assert_eq!(t.minus(forever).to_string(), "0000-01-01T00:00:00.000Z", "before year 0: all history");
        assert_eq!(t.plus(forever).to_string(), "9999-12-31T23:59:59.999Z");
        assert!(t.minus(forever) < t && t < t.plus(forever));
    }
}
