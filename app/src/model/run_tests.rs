//! The run's state words: every pair of statuses against the lifecycle, and each word parsed
//! back exactly.
use super::*;

#[test]
fn the_lifecycle_table() {
    use RunStatus::*;
    // (from, to) pairs that are allowed; every other pair of the 64 is refused.
    let allowed = [
        (AwaitingApproval, Queued),
        (AwaitingApproval, Cancelled),
        (Queued, Running),
        (Queued, Cancelled),
        (Running, Succeeded),
        (Running, Failed),
        (Running, TimedOut),
        (Running, Interrupted),
    ];
    for &from in RunStatus::ALL {
        for &to in RunStatus::ALL {
            assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from} -> {to}");
        }
    }
    for finished in [Succeeded, Failed, TimedOut, Cancelled, Interrupted] {
        assert!(!finished.is_active(), "{finished} is final");
        assert!(RunStatus::ALL.iter().all(|&to| !finished.can_move_to(to)), "{finished} moves nowhere");
    }
    assert_eq!(RunStatus::ALL.iter().filter(|s| s.is_active()).count(), 3);
    assert!(Queued.is_waiting() && AwaitingApproval.is_waiting() && !Running.is_waiting());
}

#[test]
fn every_word_parses_back_and_a_wrong_one_is_an_error() {
    fn round_trip<T: Copy + PartialEq + fmt::Debug + FromStr<Err = String> + Serialize>(
        all: &[T],
        word: fn(T) -> &'static str,
    ) {
        for &v in all {
            assert_eq!(word(v).parse::<T>(), Ok(v));
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{}\"", word(v)));
        }
    }
    round_trip(RunStatus::ALL, RunStatus::as_str);
    round_trip(RunMode::ALL, RunMode::as_str);
    round_trip(Verification::ALL, Verification::as_str);
    round_trip(Trigger::ALL, Trigger::as_str);
    round_trip(DecisionReason::ALL, DecisionReason::as_str);
    assert_eq!(RunMode::DryRun.as_str(), "dry-run", "as the CHECK constraint spells it");
    let err = "Queued".parse::<RunStatus>().unwrap_err();
    assert!(err.contains("unknown run status `Queued`") && err.contains("awaiting_approval"), "{err}");
    assert!("".parse::<Verification>().is_err());
    assert!(serde_json::from_str::<RunStatus>("\"done\"").is_err());
}
