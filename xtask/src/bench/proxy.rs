//! `cargo xtask bench proxy`: the platform handler's cost, hop by hop. Requests per second and
//! p50/p99 latency, in one run, of three peers on one kept-alive connection each: the test
//! backend (`tests/backend`) reached directly; the worker stand-in (`tests/worker`) with the shim
//! and the diagnostics handler (the stand-in's own round trip); and the worker, shim and platform
//! handler proxying to the same backend binary. Rounds alternate so all three see the same
//! machine. One row per architecture (`rows`): x64 under Wine on Linux; on Windows every
//! architecture the job runs (natively, under WOW64 or emulated). Reported as ratios against the
//! direct peer, with the share of each hop in the proxied median, a machine-readable line per row
//! and, in GitHub Actions, a table on the job's summary page (`summary`); never asserted. Goal:
//! the proxied p50 at most 1.5x the direct one (issue 10; docs/httpplatform.md §10 says what Wine
//! costs).

mod client;
mod layout;
mod rows;
mod summary;

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use client::Client;
use layout::{binaries, lay_out, windows_path};
use rows::{Mode, Place, Row};

use crate::{
    build,
    cmd::Running,
    project::Project,
    winhost::{WindowsHost, native::NativeWindows, wine::HostWine},
};

/// Rounds of `PER_ROUND` requests to each peer, alternating. Short rounds: the peers see the
/// machine's load (two cores shared with builds and tests) at nearly the same moments, so their
/// medians stay comparable.
const ROUNDS: usize = 60;
const PER_ROUND: usize = 10;
const WARM_UP: usize = 30;
const READY: Duration = Duration::from_secs(120);
/// Under Wine, the folder under the prefix's C:\ that holds each row's binaries, sites and
/// configuration (`<ROOT>\<arch>`). On Windows they go under `target\archway\bench\proxy`,
/// so the bench changes nothing outside the checkout.
const WINE_ROOT: &str = r"C:\inetpub\archway-bench-proxy";
/// Requests per second and p50/p99 of the backend direct, the stand-in and the platform handler
/// proxying, in one run (the three peers alternate rounds).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  cargo xtask bench proxy\n  cargo xtask bench proxy --arch arm64,x64   # on Windows on ARM64: native and emulated rows\n\n\
    Prints one line per row, e.g. `bench proxy: x64-emulated ratio p50 5.30 goal 1.5 missed (…)`,\n\
    and, when GITHUB_STEP_SUMMARY is set, appends a markdown table to the file it names.\n\
    Fails when a row cannot run (a binary missing, a worker failing); never on the goal."
)]
pub struct Args {
    /// The architectures to measure, comma-separated (x86, x64, arm64, arm64ec). Default: x64
    /// under Wine on Linux; on Windows every one of ARCHWAY_RUN_NATIVELY, else the machine's own.
    #[arg(long = "arch", value_name = "ARCH")]
    pub archs: Vec<String>,
}

/// One thing measured: where it is, what it answers, and its per-request seconds.
struct Peer {
    label: &'static str,
    address: String,
    path: &'static str,
    /// A piece of the first answer that shows the right program answered.
    expect: &'static str,
    times: Vec<f64>,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let place = if cfg!(windows) { Place::Windows(crate::winhost::native::machine()) } else { Place::Wine };
    let rows = rows::select(place, &args.archs, std::env::var("ARCHWAY_RUN_NATIVELY").ok().as_deref())?;
    let archs: Vec<&str> = rows.iter().map(|r| r.arch.name()).collect();
    let bin = build::run(project, &build::BuildOptions::release(&archs, &build::Flags::default()))?.bin_dir;
    for row in &rows {
        for file in binaries(row) {
            if !bin.join(&file).is_file() {
                bail!(
                    "{} is missing after the {} build: the worker stand-in, the shim, both handlers and the test backend must build",
                    bin.join(&file).display(),
                    row.arch
                );
            }
        }
    }
    let bench = project.target_dir.join("archway").join("bench");
    let wine;
    let (host, describe, root): (&dyn WindowsHost, String, PathBuf) = match place {
        Place::Wine => {
            let found = HostWine::find()
                .context("Wine is not installed (apt-get install wine64); bench proxy runs the x64 row under Wine")?;
            wine = HostWine::open(&found, &bench.join("wine-proxy"))?;
            if rows.iter().any(|r| r.arch == crate::matrix::Arch::X86) && !wine.runs_x86() {
                bail!("the x86 row needs 32-bit Wine (dpkg --add-architecture i386 && apt-get install wine32:i386)");
            }
            let root = crate::pools::standin::host_path(&wine, WINE_ROOT);
            (&wine, wine.describe(), root)
        }
        Place::Windows(machine) => {
            // Absolute: the paths go into the configuration the worker reads.
            let root = std::path::absolute(bench.join("proxy")).context("cannot make the bench folder absolute")?;
            (&NativeWindows, format!("Windows on {machine}"), root)
        }
    };

    let mut outcomes: Vec<summary::Outcome> = Vec::new();
    for row in rows {
        match measure_row(host, &root.join(row.arch.name()), &bin, row, &describe) {
            Ok(measured) => outcomes.push(Ok(measured)),
            Err(e) => {
                eprintln!("bench proxy: the {row} row could not run: {e:#}");
                outcomes.push(Err((row, format!("{e:#}"))));
            }
        }
    }
    for outcome in &outcomes {
        println!(
            "{}",
            match outcome {
                Ok(m) => summary::line(m),
                Err((row, why)) => summary::failed_line(row, why),
            }
        );
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        summary::append(Path::new(&path), &summary::markdown(&outcomes))?;
    }
    let failed: Vec<String> =
        outcomes.iter().filter_map(|o| o.as_ref().err()).map(|(row, why)| format!("{row}: {why}")).collect();
    if !failed.is_empty() {
        bail!("{} of the bench's rows could not run:\n{}", failed.len(), failed.join("\n"));
    }
    Ok(())
}

/// Lays out one row under `root` (this machine's path), starts its worker and direct backend,
/// measures the three peers and prints the row's table.
fn measure_row(host: &dyn WindowsHost, root: &Path, bin: &Path, row: Row, describe: &str) -> Result<summary::Measured> {
    let arch = row.arch;
    let windows_root = windows_path(host, root)?;
    let config = lay_out(root, &windows_root, bin, &row)?;

    // A failed request's page then says what failed.
    let detailed = [("ARCHWAY_DETAILED_ERRORS".to_string(), "1".to_string())];
    let worker = host
        .command(
            &format!(r"{windows_root}\bin\archway_worker_{arch}.exe"),
            &["-ap".into(), "proxy".into(), "-h".into(), config, "-max-seconds".into(), "900".into()],
            &detailed,
        )
        .start()?;
    worker.wait_for_line(READY, |l| l.trim_end() == "archway_worker: ready")?;
    let proxied = site_address(&worker, "proxy")?;
    let standin = site_address(&worker, "diag")?;
    let direct_server = host
        .command(
            &format!(r"{windows_root}\bin\archway_backend_{arch}.exe"),
            &["--port".into(), "0".into(), "--max-seconds".into(), "900".into()],
            &[],
        )
        .start()?;
    let line = direct_server.wait_for_line(READY, |l| l.starts_with("archway_backend: listening on "))?;
    let direct = line.split_whitespace().nth(3).context("the backend's listening line names its address")?.to_string();

    let peer = |label, address: &str, path, expect| Peer {
        label,
        address: address.to_string(),
        path,
        expect,
        times: Vec::new(),
    };
    // The proxied peer first: its first request starts the backend.
    let mut peers = [
        peer(
            "proxy: worker, shim, platform handler, WinHTTP, backend",
            &proxied,
            "/bench",
            "\"backend\":\"archway_backend\"",
        ),
        peer("stand-in: worker, shim, diagnostics handler", &standin, "/", "\"product\":\"archway\""),
        peer("direct: the same backend", &direct, "/bench", "\"backend\":\"archway_backend\""),
    ];
    let result = measure(&mut peers).with_context(|| {
        let tail = |t: String| t.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        format!(
            "proxy at {proxied}, stand-in at {standin}, direct at {direct}\n--- worker stderr (end)\n{}\n--- direct backend stderr (end)\n{}",
            tail(worker.stderr()),
            tail(direct_server.stderr())
        )
    });
    let stopped = worker.stop(Duration::from_secs(15));
    let _ = direct_server.stop(Duration::from_secs(1));
    result?;
    if let Ok(done) = stopped
        && (done.killed || done.code != Some(0))
    {
        println!("note: the worker did not stop cleanly (exit {:?}, killed {})", done.code, done.killed);
    }
    let heading = match row.mode {
        Mode::Wine => format!("{arch} under {describe}"),
        _ => format!("{row} on {describe}"),
    };
    println!(
        "{heading}: {} requests to each peer on one kept-alive connection each, in {ROUNDS} rounds alternating the peers",
        ROUNDS * PER_ROUND
    );
    for line in report(&peers) {
        println!("{line}");
    }
    let [proxy, standin, direct] = &peers;
    Ok(summary::Measured {
        row,
        host: describe.to_string(),
        direct_p50: percentile(&direct.times, 0.50),
        direct_p99: percentile(&direct.times, 0.99),
        standin_p50: percentile(&standin.times, 0.50),
        proxy_p50: percentile(&proxy.times, 0.50),
        proxy_p99: percentile(&proxy.times, 0.99),
        proxy_rps: proxy.times.len() as f64 / proxy.times.iter().sum::<f64>(),
    })
}

/// The report's lines: each peer with its ratios to the direct one, the goal, and where the
/// proxied median goes.
fn report(peers: &[Peer; 3]) -> Vec<String> {
    let [proxy, standin, direct] = peers;
    let p50 = |p: &Peer| percentile(&p.times, 0.50);
    let p99 = |p: &Peer| percentile(&p.times, 0.99);
    let mut out = Vec::new();
    for p in [direct, standin, proxy] {
        let total: f64 = p.times.iter().sum();
        out.push(format!(
            "  {:<56} {:>6.0} requests/s  p50 {:>6.3} ms ({:>4.2}x)  p99 {:>6.3} ms ({:>4.2}x)  GET {}",
            p.label,
            p.times.len() as f64 / total,
            p50(p) * 1e3,
            p50(p) / p50(direct),
            p99(p) * 1e3,
            p99(p) / p99(direct),
            p.path
        ));
    }
    let ratio = p50(proxy) / p50(direct);
    out.push(format!(
        "  latency ratio (proxy / direct): p50 {ratio:.2}x, p99 {:.2}x  (goal p50 <= 1.5x: {})",
        p99(proxy) / p99(direct),
        super::verdict(ratio <= 1.5)
    ));
    // The proxied request crosses the stand-in once and the backend once; what is left is the
    // platform handler's own hop (WinHTTP out and back, its thread hand-offs).
    let hops = [
        ("the backend's round trip (the direct peer)", p50(direct)),
        ("the stand-in's round trip (worker, shim; the diagnostics peer)", p50(standin)),
        (
            "the platform handler's hop (WinHTTP, thread hand-offs: the rest)",
            (p50(proxy) - p50(standin) - p50(direct)).max(0.0),
        ),
    ];
    let whole = p50(proxy);
    out.push(format!("  where the proxied p50 of {:.3} ms goes (differences of medians, an estimate):", whole * 1e3));
    let top = hops.iter().map(|h| h.1).fold(0.0, f64::max);
    for (name, t) in hops {
        let mark = if t == top { "  <- dominates" } else { "" };
        out.push(format!("    {name:<68} {:>6.3} ms {:>4.0}%{mark}", t * 1e3, 100.0 * t / whole));
    }
    out.push(format!(
        "  floor: with a handler hop of zero, stand-in + backend = {:.2}x direct (the stand-in under Wine alone is {:.2}x)",
        (p50(standin) + p50(direct)) / p50(direct),
        p50(standin) / p50(direct)
    ));
    out
}

/// The address of `site` from the worker's `listening … site=<site> address=<ip:port>` line.
fn site_address(running: &Running, site: &str) -> Result<String> {
    let stdout = running.stdout();
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("archway_worker: listening "))
        .find(|l| l.split_whitespace().any(|w| w == format!("site={site}")))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("address=")))
        .map(str::to_string)
        .with_context(|| format!("no `archway_worker: listening … site={site} address=…` line:\n{stdout}"))
}

/// Warms every peer up (untimed; the proxy's first request starts the backend), then times
/// `PER_ROUND` requests to each peer in turn, `ROUNDS` times.
fn measure(peers: &mut [Peer]) -> Result<()> {
    let mut clients = Vec::new();
    for p in peers.iter() {
        let mut client = Client::connect(&p.address)?;
        let first =
            client.get(&format!("{}?warm-up", p.path)).with_context(|| format!("the first request to {}", p.label))?;
        if !first.contains(p.expect) {
            bail!("{} answered something else than expected (no {}): {first}", p.label, p.expect);
        }
        for _ in 0..WARM_UP {
            client.get(p.path)?;
        }
        clients.push(client);
    }
    for round in 0..ROUNDS {
        for (p, client) in peers.iter_mut().zip(clients.iter_mut()) {
            for i in 0..PER_ROUND {
                let t = Instant::now();
                client.get(p.path).with_context(|| format!("request {i} of round {round} to {}", p.label))?;
                p.times.push(t.elapsed().as_secs_f64());
            }
        }
    }
    Ok(())
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ms: &[f64]) -> Peer {
        Peer { label: "x", address: String::new(), path: "/", expect: "", times: ms.iter().map(|m| m / 1e3).collect() }
    }

    #[test]
    fn the_report_names_the_dominant_hop_and_the_ratio() {
        let lines = report(&[peer(&[3.0, 3.0, 3.0]), peer(&[0.8, 0.8, 0.8]), peer(&[1.0, 1.0, 1.0])]);
        let text = lines.join("\n");
        assert!(text.contains("p50 3.00x"), "{text}");
        assert!(text.contains("missed"), "{text}");
        let dominant = lines.iter().find(|l| l.contains("dominates")).expect(&text);
        assert!(dominant.contains("platform handler's hop") && dominant.contains("1.200 ms"), "{text}");
        assert!(text.contains("stand-in + backend = 1.80x"), "{text}");
    }

    #[test]
    fn a_fast_proxy_meets_the_goal_and_the_backend_dominates() {
        let text = report(&[peer(&[1.4]), peer(&[0.3]), peer(&[1.0])]).join("\n");
        assert!(text.contains("p50 1.40x") && text.contains("met"), "{text}");
        let dominant = text.lines().find(|l| l.contains("dominates")).expect(&text);
        assert!(dominant.contains("backend's round trip"), "{text}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.99), 4.0);
    }
}
