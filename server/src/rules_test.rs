//! `selfheal rules test DIR`: rules as tested code. Each `*.toml` case in DIR is a sequence of
//! notifications at times relative to the case's start, with the decision expected for each
//! alert; the config's rules decide them through the same pure decision the inbox makes
//! ([`Simulation`]), over an in-memory history. A readable diff for every mismatch; the command
//! fails when any case does. The format is in docs/operations.md ("Rules as tested code").
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

use app::ssr::alert::{normalise_payload, AlertStatus, Labels, WebhookPayload};
use app::ssr::heal::guard::GuardAnswer;
use app::ssr::heal::pause::{Paused, EVERYTHING};
use app::ssr::heal::simulate::{Outcome, SimAlert, Simulation};
use app::ssr::heal::window::{Window, WindowAction, WindowConfig};
use app::ssr::heal::{Decision, KnownHosts, Plan, Rule, SkipReason};

/// One case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    description: String,
    /// The inventory's hosts (what a `--limit` may name); default none.
    #[serde(default)]
    hosts: Vec<String>,
    /// How long each queued run stays in flight (queued, awaiting approval or running).
    #[serde(default, with = "humantime_serde")]
    run_takes: Duration,
    #[serde(rename = "step")]
    steps: Vec<Step>,
}

/// One notification (or none, to only pause or reset) at `at` after the case's start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(with = "humantime_serde")]
    at: Duration,
    #[serde(default)]
    alerts: Vec<CaseAlert>,
    /// A real Alertmanager payload (JSON), relative to the case file, instead of `alerts`.
    #[serde(default)]
    payload: Option<PathBuf>,
    /// Pauses in force from this step on: rule names, or "everything"; `[]` resumes.
    #[serde(default)]
    paused: Option<Vec<String>>,
    /// Breakers an operator resets now: "rule/target".
    #[serde(default)]
    reset: Vec<String>,
    /// What the rules' guards answer from this step on, by guard name: "holds", "fails" or
    /// "unknown" (Prometheus does not answer); a guard not named holds. `{}` makes all hold.
    #[serde(default)]
    guards: Option<BTreeMap<String, CaseGuard>>,
    /// The known targets per blast scope from this step on (what Prometheus would count);
    /// `[]` makes them unknown.
    #[serde(default)]
    known_targets: Option<Vec<KnownCount>>,
    /// Blast-radius trips an operator resets now.
    #[serde(default)]
    reset_blast: Vec<BlastScope>,
    /// Maintenance windows open from this step on (`name`, `matchers`, `action`; their times
    /// are not looked at); `[]` closes them.
    #[serde(default)]
    windows: Option<Vec<CaseWindow>>,
    /// One per alert, in order.
    #[serde(default)]
    expect: Vec<Expect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseAlert {
    #[serde(default = "firing")]
    status: AlertStatus,
    labels: BTreeMap<String, String>,
    /// When the episode started (default: the step's `at`): the same labels and start again is
    /// the same episode, as Alertmanager repeats it.
    #[serde(default, with = "humantime_serde::option")]
    starts: Option<Duration>,
}

/// A rule's blast scope: `scope` as the decision writes it (`job="api"`; `""` for the whole rule).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlastScope {
    rule: String,
    #[serde(default)]
    scope: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseWindow {
    name: String,
    matchers: Vec<String>,
    #[serde(default)]
    action: WindowAction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnownCount {
    rule: String,
    #[serde(default)]
    scope: String,
    count: u32,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum CaseGuard {
    Holds,
    Fails,
    Unknown,
}

impl CaseGuard {
    fn answer(self) -> GuardAnswer {
        match self {
            CaseGuard::Holds => GuardAnswer::Holds,
            CaseGuard::Fails => GuardAnswer::Fails,
            CaseGuard::Unknown => GuardAnswer::Unknown("Prometheus did not answer (in the case)".into()),
        }
    }
}

fn firing() -> AlertStatus {
    AlertStatus::Firing
}

/// What an alert's decision must be; fields left out are not checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// `enqueued`, a skip's reason (`cooldown`, `breaker_open`, `run_in_progress`, `resolved`,
    /// `no_rule`, `invalid_labels`, `shadow`, `paused`, `guard_failed:NAME`,
    /// `guard_unknown:NAME`, `in_maintenance`), `blast_radius` (parked for approval), or
    /// `duplicate` (an episode
    /// already stored).
    reason: String,
    rule: Option<String>,
    target: Option<String>,
    /// The run's mode: `auto`, `approval`, `dry_run`.
    mode: Option<String>,
}

/// An outcome in the terms of [`Expect`], plus the decision's sentence.
struct Got {
    reason: String,
    rule: Option<String>,
    target: Option<String>,
    mode: Option<String>,
    detail: String,
}

impl Got {
    fn of(outcome: &Outcome) -> Got {
        match outcome {
            Outcome::Duplicate => Got {
                reason: "duplicate".into(),
                rule: None,
                target: None,
                mode: None,
                detail: "an episode already stored".into(),
            },
            Outcome::Decided { rule, target, decision } => match decision {
                Decision::Run(Plan { held: Some(hold), mode, .. }) => Got {
                    reason: hold.reason.as_str().into(),
                    rule: rule.clone(),
                    target: target.clone(),
                    mode: Some(mode.as_str().to_owned()),
                    detail: hold.detail.clone(),
                },
                Decision::Run(plan) => Got {
                    reason: "enqueued".into(),
                    rule: rule.clone(),
                    target: target.clone(),
                    mode: Some(plan.mode.as_str().to_owned()),
                    detail: format!("{} on {}", plan.playbook, plan.limit.as_deref().unwrap_or(&plan.target)),
                },
                Decision::Skip(skip) => Got {
                    reason: match skip.reason {
                        // The guard's name is the detail's head: `guard_failed:NAME — ...`.
                        SkipReason::GuardFailed | SkipReason::GuardUnknown => {
                            skip.detail.split(" — ").next().unwrap_or_default().to_owned()
                        }
                        other => other.as_str().to_owned(),
                    },
                    rule: rule.clone(),
                    target: target.clone(),
                    mode: None,
                    detail: skip.detail.clone(),
                },
            },
        }
    }

    /// The fields `expect` names that differ.
    fn differs(&self, expect: &Expect) -> bool {
        let field = |want: &Option<String>, got: &Option<String>| {
            want.as_ref().is_some_and(|w| Some(w) != got.as_ref())
        };
        expect.reason != self.reason
            || field(&expect.rule, &self.rule)
            || field(&expect.target, &self.target)
            || field(&expect.mode, &self.mode)
    }

    fn line(&self) -> String {
        let opt = |o: &Option<String>| o.as_deref().unwrap_or("-").to_owned();
        format!(
            "reason={} rule={} target={} mode={} ({})",
            self.reason,
            opt(&self.rule),
            opt(&self.target),
            opt(&self.mode),
            self.detail
        )
    }
}

fn expect_line(e: &Expect) -> String {
    let opt = |o: &Option<String>| o.as_deref().unwrap_or("*").to_owned();
    format!("reason={} rule={} target={} mode={}", e.reason, opt(&e.rule), opt(&e.target), opt(&e.mode))
}

/// A case's verdict: how many decisions were checked, and the report of each mismatch.
struct Verdict {
    description: String,
    decisions: usize,
    mismatches: Vec<String>,
}

/// Runs every `*.toml` case in `dir` (sorted) against `rules`, prints one line per case and a
/// diff for each mismatch; an error when any case fails or cannot be read.
pub fn run(dir: &Path, rules: &[Rule]) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the case folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no case (*.toml) in {}", dir.display());
    }
    let mut failed = 0;
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        match run_case(file, rules) {
            Ok(v) if v.mismatches.is_empty() => println!("ok    {name}: {} decisions", v.decisions),
            Ok(v) => {
                failed += 1;
                println!(
                    "FAIL  {name}: {} of {} decisions differ ({})",
                    v.mismatches.len(),
                    v.decisions,
                    v.description
                );
                for m in &v.mismatches {
                    println!("{m}");
                }
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  {name}: {e:#}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} rule cases failed", files.len());
    }
    println!("{} rule cases passed", files.len());
    Ok(())
}

fn run_case(file: &Path, rules: &[Rule]) -> anyhow::Result<Verdict> {
    let case: Case = Figment::from(Toml::file_exact(file)).extract().map_err(|e| anyhow::anyhow!("{e}"))?;
    let hosts = KnownHosts::of(case.hosts.iter().map(String::as_str));
    let mut sim = Simulation::new(rules, hosts, case.run_takes);
    let mut paused = Paused::default();
    let mut verdict = Verdict { description: case.description.clone(), decisions: 0, mismatches: Vec::new() };
    for (n, step) in case.steps.iter().enumerate() {
        let at = humantime_serde::re::humantime::format_duration(step.at);
        let here = format!("step {} (at {at})", n + 1);
        if let Some(scopes) = &step.paused {
            paused =
                Paused::of(scopes.iter().map(|s| if s == "everything" { EVERYTHING } else { s.as_str() }));
        }
        for reset in &step.reset {
            let (rule, target) = reset
                .split_once('/')
                .with_context(|| format!("{here}: reset `{reset}` is not rule/target"))?;
            sim.reset_breaker(rule, target, step.at);
        }
        if let Some(guards) = &step.guards {
            if let Some(unknown) =
                guards.keys().find(|name| !rules.iter().any(|r| r.guard_names().any(|g| g == *name)))
            {
                bail!("{here}: no rule has a guard named `{unknown}`");
            }
            sim.set_guards(guards.iter().map(|(name, g)| (name.clone(), g.answer())).collect());
        }
        if let Some(known) = &step.known_targets {
            sim.set_known_targets(
                known.iter().map(|k| ((k.rule.clone(), k.scope.clone()), k.count)).collect(),
            );
        }
        if let Some(windows) = &step.windows {
            let open = windows
                .iter()
                .map(|w| {
                    Window::from_config(WindowConfig {
                        name: w.name.clone(),
                        matchers: w.matchers.clone(),
                        reason: String::new(),
                        starts_at: Some("1970-01-01T00:00:00Z".into()),
                        ends_at: Some("9999-12-31T23:59:59Z".into()),
                        schedule: None,
                        duration: None,
                        timezone: None,
                        action: w.action,
                        silence: false,
                    })
                    .map_err(|e| anyhow::anyhow!("{here}: {e}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            sim.set_windows(open);
        }
        for b in &step.reset_blast {
            sim.reset_blast(&b.rule, &b.scope, step.at);
        }
        let alerts = step_alerts(file, step).with_context(|| here.clone())?;
        let outcomes = sim.notify(step.at, &alerts, &paused);
        if step.expect.len() != outcomes.len() {
            bail!("{here}: {} alerts but {} expectations (one per alert)", outcomes.len(), step.expect.len());
        }
        for (i, (outcome, expect)) in outcomes.iter().zip(&step.expect).enumerate() {
            verdict.decisions += 1;
            let got = Got::of(outcome);
            if got.differs(expect) {
                let mut report = String::new();
                let alertname = alerts[i].labels.get("alertname").map_or("?", String::as_str);
                let _ = writeln!(report, "  {here}, alert {} ({alertname}):", i + 1);
                let _ = writeln!(report, "    expected  {}", expect_line(expect));
                let _ = write!(report, "    got       {}", got.line());
                verdict.mismatches.push(report);
            }
        }
    }
    Ok(verdict)
}

/// A step's alerts: its `payload` file normalised as the webhook does, or its inline alerts
/// (an episode keyed by its labels and start).
fn step_alerts(file: &Path, step: &Step) -> anyhow::Result<Vec<SimAlert>> {
    if let Some(payload) = &step.payload {
        if !step.alerts.is_empty() {
            bail!("give `alerts` or `payload`, not both");
        }
        let path = file.parent().unwrap_or(Path::new(".")).join(payload);
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let payload: WebhookPayload = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an Alertmanager payload", path.display()))?;
        let alerts = normalise_payload(&payload).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return alerts
            .into_iter()
            .map(|a| {
                let labels = Labels::parse(&a.labels).map_err(anyhow::Error::msg)?.into_map();
                Ok(SimAlert { status: a.status, labels, fingerprint: a.fingerprint, starts_at: a.starts_at })
            })
            .collect();
    }
    Ok(step
        .alerts
        .iter()
        .map(|a| SimAlert {
            status: a.status,
            fingerprint: serde_json::to_string(&a.labels).unwrap_or_default(),
            starts_at: format!("+{}ms", a.starts.unwrap_or(step.at).as_millis()),
            labels: a.labels.clone(),
        })
        .collect())
}
