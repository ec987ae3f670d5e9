//! The UI over a database seeded with history: the overview's charts, a run with 100,000
//! output lines, and the alert filters with keyset pages, also on a phone-sized window.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use app::model::Role;
use app::ssr::db::seed::SeedSize;

use crate::common::browser::{
    artifacts, assert_quiet_console, browser, log_in, overflows_sideways, text_of, wait_hydrated, wait_path,
    Chromium, ONE_BROWSER, WAIT,
};
use crate::common::TestApp;

/// A viewer logged in, in a real browser, to a fresh app seeded with history.
struct Seeded {
    app: TestApp,
    /// The first seeded run.
    run: i64,
    addr: SocketAddr,
    c: Client,
    _chromium: Chromium,
}

async fn seeded_viewer(size: SeedSize) -> Seeded {
    let app = TestApp::new().await;
    app.add_user("vera", "viewer-password-1", Role::Viewer).await;
    let (_, run) = app::ssr::db::seed::seed(&app.db(), size).await.unwrap();
    let addr = app.serve().await;
    let (c, chromium) = browser().await;
    log_in(&c, addr, "vera", "viewer-password-1").await;
    wait_path(&c, "/").await;
    Seeded { app, run, addr, c, _chromium: chromium }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_charts_a_day_of_seeded_heals() {
    let Some(_turn) = crate::provisioned("the_overview_charts_a_day_of_seeded_heals") else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    // 30 days of history: about a hundred runs fall in the last 24 hours.
    let s = seeded_viewer(SeedSize { alerts: 3000, runs: 3000, lines_per_run: 1 }).await;
    let c = &s.c;
    let p50 = text_of(c, "[data-testid=tth-p50]").await;
    let p95 = text_of(c, "[data-testid=tth-p95]").await;
    // Seeded times to heal are 1.5 s to 10.5 s.
    assert!(p50.ends_with("time to heal, median") && p50.contains(" s"), "{p50}");
    assert!(p95.contains(" s") && !p95.contains('—'), "{p95}");
    for chart in ["heals-chart", "tth-chart"] {
        let bars = c.find_all(Locator::Css(&format!("[data-testid={chart}] svg g.bar"))).await.unwrap();
        assert!(bars.len() >= 12, "{chart}: {} hours drawn", bars.len());
        let label = c
            .find(Locator::Css(&format!("[data-testid={chart}] svg")))
            .await
            .unwrap()
            .attr("aria-label")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(label.contains("last 24 hours"), "{chart}: {label}");
    }
    let hover = c
        .find(Locator::Css("[data-testid=heals-chart] svg g.bar title"))
        .await
        .unwrap()
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(hover.contains("UTC") && hover.contains("verified"), "{hover}");
    std::fs::write(artifacts().join("overview-charts.png"), c.screenshot().await.unwrap()).unwrap();
    assert_quiet_console(&s.c, &[]).await;
    s.c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_100k_output_lines_opens_a_page_at_a_time_and_can_be_searched() {
    let Some(_turn) =
        crate::provisioned("a_run_with_100k_output_lines_opens_a_page_at_a_time_and_can_be_searched")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let s = seeded_viewer(SeedSize { alerts: 1, runs: 1, lines_per_run: 100_000 }).await;
    let (c, run) = (&s.c, s.run);
    sqlx::query("UPDATE heal_runs SET recap = ? WHERE id = ?")
        .bind(r#"{"web1":{"ok":5,"changed":1,"failed":1}}"#)
        .bind(run)
        .execute(&s.app.pool)
        .await
        .unwrap();

    let run_url = format!("http://{}/runs/{run}", s.addr);
    c.goto(&run_url).await.unwrap();
    wait_hydrated(c).await;
    text_of(c, "[data-testid=run-output]").await;
    let shown = c.find_all(Locator::Css("[data-testid=run-output] .line")).await.unwrap().len();
    assert_eq!(shown, 2000, "one page of the 100,000 lines, not all of them");
    assert!(text_of(c, ".output-pages").await.contains("lines 1–2000 of 100000"));
    // Times read relative, with the exact UTC time on hover.
    let queued = c.find(Locator::Css("[data-testid=run-facts] time")).await.unwrap();
    let (text, title) =
        (queued.text().await.unwrap(), queued.attr("title").await.unwrap().unwrap_or_default());
    assert!(text.ends_with(" ago") && title.ends_with(" UTC"), "{text} / {title}");
    let recap = text_of(c, "[data-testid=run-recap]").await;
    assert!(recap.contains("web1"), "{recap}");
    assert_eq!(text_of(c, "[data-testid=run-recap] td.tone-bad").await, "1", "a failure stands out");

    c.find(Locator::Css("[data-testid=output-last]")).await.unwrap().click().await.unwrap();
    let tail = c.wait().at_most(WAIT).for_element(Locator::Css("#L100000")).await.unwrap();
    assert!(tail.text().await.unwrap().contains("line 100000"));
    std::fs::write(artifacts().join("run-output-last.png"), c.screenshot().await.unwrap()).unwrap();

    let q = c.find(Locator::Css(".output-search input[name=q]")).await.unwrap();
    q.send_keys("LINE 99999").await.unwrap();
    c.find(Locator::Css(".output-search button")).await.unwrap().click().await.unwrap();
    let hits = text_of(c, "[data-testid=search-hits]").await;
    assert!(hits.contains("1 matching line") && hits.contains("99999"), "{hits}");
    std::fs::write(artifacts().join("run-output-search.png"), c.screenshot().await.unwrap()).unwrap();
    c.find(Locator::Css("[data-testid=search-hits] a")).await.unwrap().click().await.unwrap();
    let hit = c.wait().at_most(WAIT).for_element(Locator::Css("#L99999")).await.unwrap();
    assert!(hit.text().await.unwrap().ends_with("line 99999"));
    assert!(text_of(c, ".output-pages").await.contains("lines 99979–"));
    assert_quiet_console(&s.c, &[]).await;
    s.c.close().await.unwrap();
}

/// Hrefs of the alert links in the table (one per row).
async fn alert_links(c: &Client) -> Vec<String> {
    let mut hrefs = Vec::new();
    for a in c.find_all(Locator::Css("[data-testid=alerts-table] [data-testid=alert-link]")).await.unwrap() {
        hrefs.push(a.attr("href").await.unwrap().unwrap_or_default());
    }
    hrefs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_keyset_pages_on_a_seeded_database_then_the_pages_on_a_phone() {
    let Some(_turn) =
        crate::provisioned("filters_and_keyset_pages_on_a_seeded_database_then_the_pages_on_a_phone")
    else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    // 4,000 alerts: 1 in 40 is a firing DiskFull, so the filter selects 100, two pages of 50.
    let s = seeded_viewer(SeedSize { alerts: 4000, runs: 50, lines_per_run: 20 }).await;
    let (c, addr) = (&s.c, s.addr);
    c.goto(&format!("http://{addr}/alerts")).await.unwrap();
    wait_hydrated(c).await;
    let form = "[data-testid=alert-filters]";
    c.find(Locator::Css(&format!("{form} select[name=status] option[value=firing]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{form} input[name=alertname]")))
        .await
        .unwrap()
        .send_keys("DiskFull")
        .await
        .unwrap();
    c.find(Locator::Css(&format!("{form} button[type=submit]"))).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !c.current_url().await.unwrap().query().unwrap_or_default().contains("alertname=DiskFull") {
        assert!(Instant::now() < deadline, "the filter never reached the URL");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = loop {
        let links = alert_links(c).await;
        let table = text_of(c, "[data-testid=alerts-table] tbody").await;
        if links.len() == 50 && !table.contains("resolved") {
            assert_eq!(table.matches("DiskFull").count(), 50, "{table}");
            assert!(!table.contains("NginxDown"), "{table}");
            break links;
        }
        assert!(Instant::now() < deadline, "{} rows: {table}", links.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let export =
        c.find(Locator::Css("[data-testid=export-csv]")).await.unwrap().attr("href").await.unwrap().unwrap();
    assert!(export.contains("status=firing") && export.contains("alertname=DiskFull"), "{export}");
    std::fs::write(artifacts().join("alerts-filtered.png"), c.screenshot().await.unwrap()).unwrap();

    c.find(Locator::Css("[data-testid=next-page]")).await.unwrap().click().await.unwrap();
    let second = loop {
        let links = alert_links(c).await;
        if links.len() == 50 && links != first {
            break links;
        }
        assert!(Instant::now() < deadline, "the next page never came: {links:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let id = |href: &String| href.rsplit('/').next().unwrap().parse::<i64>().unwrap();
    assert!(id(second.first().unwrap()) < id(first.last().unwrap()), "older rows, no overlap");
    let url = c.current_url().await.unwrap();
    assert!(url.query().unwrap_or_default().contains("alertname=DiskFull"), "the filter stays: {url}");
    let table = text_of(c, "[data-testid=alerts-table] tbody").await;
    assert_eq!(table.matches("DiskFull").count(), 50, "{table}");

    // A phone: every main page fits the width (tables scroll inside themselves).
    c.set_window_size(390, 844).await.unwrap();
    let run = s.run;
    let alert = id(&first[0]);
    for (path, shot) in [
        ("/".to_owned(), "mobile-overview.png"),
        ("/alerts?status=firing".to_owned(), "mobile-alerts.png"),
        (format!("/alerts/{alert}"), "mobile-alert.png"),
        (format!("/runs/{run}"), "mobile-run.png"),
        ("/audit".to_owned(), "mobile-audit.png"),
    ] {
        c.goto(&format!("http://{addr}{path}")).await.unwrap();
        wait_hydrated(c).await;
        assert!(!overflows_sideways(c).await, "{path} is wider than a phone");
        std::fs::write(artifacts().join(shot), c.screenshot().await.unwrap()).unwrap();
    }
    assert_quiet_console(&s.c, &[]).await;
    s.c.close().await.unwrap();
}
