//! `cargo xtask bench proxy`: the platform handler's cost, hop by hop. Requests per second and
//! p50/p99 latency, in one run, of three peers on one kept-alive connection each (x64 under
//! Wine): the test backend (`tests/backend`) reached directly; the worker stand-in
//! (`tests/worker`) with the shim and the diagnostics handler (the stand-in's own round trip);
//! and the worker, shim and platform handler proxying to the same backend binary. Rounds
//! alternate so all three see the same machine. Reported as ratios against the direct peer, with
//! the share of each hop in the proxied median; never asserted. Goal: the proxied p50 at most
//! 1.5x the direct one (issue 10; docs/httpplatform.md §10 says what Wine costs).

mod client;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use client::Client;

use crate::{
    build,
    cmd::Running,
    fsx,
    project::Project,
    winhost::{WindowsHost, wine::HostWine},
};

/// Rounds of `PER_ROUND` requests to each peer, alternating. Short rounds: the peers see the
/// machine's load (two cores shared with builds and tests) at nearly the same moments, so their
/// medians stay comparable.
const ROUNDS: usize = 60;
const PER_ROUND: usize = 10;
const WARM_UP: usize = 30;
const READY: Duration = Duration::from_secs(120);
/// The folder under the prefix's C:\ that holds the binaries, the sites and the configuration.
const ROOT: &str = r"C:\inetpub\archway-bench-proxy";
const BINARIES: [&str; 5] = [
    "archway_worker_x64.exe",
    "archway_x64.dll",
    "archway_platform_x64.dll",
    "archway_diagnostics_x64.dll",
    "archway_backend_x64.exe",
];

/// One thing measured: where it is, what it answers, and its per-request seconds.
struct Peer {
    label: &'static str,
    address: String,
    path: &'static str,
    /// A piece of the first answer that shows the right program answered.
    expect: &'static str,
    times: Vec<f64>,
}

pub fn run(project: &Project) -> Result<()> {
    let bin = build::run(project, &build::BuildOptions::release(&["x64"], &build::Flags::default()))?.bin_dir;
    for file in BINARIES {
        if !bin.join(file).is_file() {
            bail!(
                "{} is missing after the x64 build: the worker stand-in, the shim, both handlers and the test backend must build",
                bin.join(file).display()
            );
        }
    }
    let wine = HostWine::find()
        .context("Wine is not installed (apt-get install wine64); bench proxy runs the x64 row under Wine")?;
    let host = HostWine::open(&wine, &project.target_dir.join("archway").join("bench").join("wine-proxy"))?;
    let config = lay_out(&host, &bin)?;

    // A failed request's page then says what failed.
    let detailed = [("ARCHWAY_DETAILED_ERRORS".to_string(), "1".to_string())];
    let worker = host
        .command(
            &format!(r"{ROOT}\bin\archway_worker_x64.exe"),
            &["-ap".into(), "proxy".into(), "-h".into(), config, "-max-seconds".into(), "900".into()],
            &detailed,
        )
        .start()?;
    worker.wait_for_line(READY, |l| l.trim_end() == "archway_worker: ready")?;
    let proxied = site_address(&worker, "proxy")?;
    let standin = site_address(&worker, "diag")?;
    let direct_server = host
        .command(
            &format!(r"{ROOT}\bin\archway_backend_x64.exe"),
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
    println!(
        "x64 under {}: {} requests to each peer on one kept-alive connection each, in {ROUNDS} rounds alternating the peers",
        host.describe(),
        ROUNDS * PER_ROUND
    );
    for line in report(&peers) {
        println!("{line}");
    }
    Ok(())
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

/// Copies the x64 binaries to `ROOT\bin` on the host and writes two sites (`proxy`, whose
/// web.config has `<httpPlatform>`, and `diag`, whose web.config picks the diagnostics handler,
/// so the stand-in reads a web.config per request for both) and the applicationHost.config;
/// returns the latter's Windows path.
fn lay_out(host: &HostWine, bin: &Path) -> Result<String> {
    let root = crate::pools::standin::host_path(host, ROOT);
    let bin_to = root.join("bin");
    std::fs::create_dir_all(&bin_to)?;
    for file in BINARIES {
        std::fs::copy(bin.join(file), bin_to.join(file))
            .with_context(|| format!("cannot copy {} to {}", bin.join(file).display(), bin_to.display()))?;
    }
    let web_config = |inner: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <system.webServer>\n    {inner}\n  </system.webServer>\n</configuration>\n"
        )
    };
    for (site, inner) in [
        (
            "site",
            format!(
                "<httpPlatform processPath=\"{ROOT}\\bin\\archway_backend_x64.exe\" arguments=\"--max-seconds 900\" />"
            ),
        ),
        ("diag", "<archway handler=\"diagnostics\" />".to_string()),
    ] {
        std::fs::create_dir_all(root.join(site))?;
        fsx::write_atomic(&root.join(site).join("web.config"), web_config(&inner).as_bytes())?;
    }
    let site = |name: &str, id: u32, folder: &str| {
        format!(
            "      <site name=\"{name}\" id=\"{id}\">\n        <application path=\"/\" applicationPool=\"proxy\">\n          <virtualDirectory path=\"/\" physicalPath=\"{ROOT}\\{folder}\" />\n        </application>\n        <bindings>\n          <binding protocol=\"http\" bindingInformation=\"127.0.0.1:0:\" />\n        </bindings>\n      </site>\n"
        )
    };
    let apphost = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n  <configSections>\n    <sectionGroup name=\"system.webServer\">\n      <section name=\"httpPlatform\" overrideModeDefault=\"Allow\" />\n      <section name=\"archway\" overrideModeDefault=\"Allow\" />\n    </sectionGroup>\n  </configSections>\n  <system.applicationHost>\n    <applicationPools>\n      <add name=\"proxy\" managedRuntimeVersion=\"\" />\n    </applicationPools>\n    <sites>\n{}{}    </sites>\n  </system.applicationHost>\n  <system.webServer>\n    <globalModules>\n      <add name=\"archway\" image=\"{ROOT}\\bin\\archway_x64.dll\" />\n    </globalModules>\n  </system.webServer>\n</configuration>\n",
        site("proxy", 1, "site"),
        site("diag", 2, "diag")
    );
    fsx::write_atomic(&root.join("applicationHost.config"), apphost.as_bytes())?;
    Ok(format!(r"{ROOT}\applicationHost.config"))
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
