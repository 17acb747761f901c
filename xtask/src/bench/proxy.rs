//! `cargo xtask bench proxy`: the platform handler's cost. Requests per second and p50/p99
//! latency of the test backend (`tests/backend`) reached through the worker stand-in, the shim
//! and the platform handler (x64 under Wine), against the same backend binary reached directly,
//! in one run, alternating rounds so both see the same machine. Goal: the proxied latency at
//! most 1.5x the direct one. Reported, never asserted.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    build,
    cmd::Running,
    fsx,
    project::Project,
    winhost::{WindowsHost, wine::HostWine},
};

/// Rounds of `PER_ROUND` requests each way, alternating.
const ROUNDS: usize = 6;
const PER_ROUND: usize = 100;
const WARM_UP: usize = 30;
const READY: Duration = Duration::from_secs(120);
/// The folder under the prefix's C:\ that holds the binaries, the site and the configuration.
const ROOT: &str = r"C:\inetpub\archway-bench-proxy";

pub fn run(project: &Project) -> Result<()> {
    let bin = build::run(project, &build::BuildOptions::release(&["x64"], &build::Flags::default()))?.bin_dir;
    for file in ["archway_worker_x64.exe", "archway_x64.dll", "archway_platform_x64.dll", "archway_backend_x64.exe"] {
        if !bin.join(file).is_file() {
            bail!(
                "{} is missing after the x64 build: the platform handler (handlers/platform) and the test backend (tests/backend) must build",
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
    let proxied = address_of(&worker, "archway_worker: listening ", "address=")?;
    let direct_server = host
        .command(
            &format!(r"{ROOT}\bin\archway_backend_x64.exe"),
            &["--port".into(), "0".into(), "--max-seconds".into(), "900".into()],
            &[],
        )
        .start()?;
    let line = direct_server.wait_for_line(READY, |l| l.starts_with("archway_backend: listening on "))?;
    let direct = line.split_whitespace().nth(3).context("the backend's listening line names its address")?.to_string();

    let result = measure(&proxied, &direct).with_context(|| {
        let tail = |t: String| t.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        format!("through the handler at {proxied}, direct at {direct}\n--- worker stderr (end)\n{}\n--- direct backend stderr (end)\n{}", tail(worker.stderr()), tail(direct_server.stderr()))
    });
    let stopped = worker.stop(Duration::from_secs(15));
    let _ = direct_server.stop(Duration::from_secs(1));
    let (through, straight) = result?;
    if let Ok(done) = stopped
        && (done.killed || done.code != Some(0))
    {
        println!("note: the worker did not stop cleanly (exit {:?}, killed {})", done.code, done.killed);
    }

    let p = |v: &[f64], q: f64| percentile(v, q) * 1e3;
    println!(
        "x64 under {}: GET /bench (the backend's JSON echo), {} requests each way on one kept-alive connection, in {ROUNDS} alternating rounds",
        host.describe(),
        ROUNDS * PER_ROUND
    );
    for (name, times) in [
        ("through the handler (worker, shim, platform handler, backend)", &through),
        ("direct to the same backend", &straight),
    ] {
        let total: f64 = times.iter().sum();
        println!(
            "  {name:<62} {:>8.0} requests/s  p50 {:>7.3} ms  p99 {:>7.3} ms",
            times.len() as f64 / total,
            p(times, 0.50),
            p(times, 0.99)
        );
    }
    let ratio50 = percentile(&through, 0.50) / percentile(&straight, 0.50);
    let ratio99 = percentile(&through, 0.99) / percentile(&straight, 0.99);
    println!(
        "  latency ratio (handler / direct): p50 {ratio50:.2}x, p99 {ratio99:.2}x  (goal p50 <= 1.5x: {})",
        super::verdict(ratio50 <= 1.5)
    );
    Ok(())
}

/// Copies the x64 worker, shim, platform handler and backend to `ROOT\bin` on the host and writes
/// the site (a web.config with `<httpPlatform>`) and the applicationHost.config; returns the
/// latter's Windows path.
fn lay_out(host: &HostWine, bin: &Path) -> Result<String> {
    let root = crate::pools::standin::host_path(host, ROOT);
    let bin_to = root.join("bin");
    std::fs::create_dir_all(&bin_to)?;
    std::fs::create_dir_all(root.join("site"))?;
    for file in ["archway_worker_x64.exe", "archway_x64.dll", "archway_platform_x64.dll", "archway_backend_x64.exe"] {
        std::fs::copy(bin.join(file), bin_to.join(file))
            .with_context(|| format!("cannot copy {} to {}", bin.join(file).display(), bin_to.display()))?;
    }
    let web_config = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <system.webServer>\n    <httpPlatform processPath=\"{ROOT}\\bin\\archway_backend_x64.exe\" arguments=\"--max-seconds 900\" />\n  </system.webServer>\n</configuration>\n"
    );
    fsx::write_atomic(&root.join("site").join("web.config"), web_config.as_bytes())?;
    let apphost = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n  <configSections>\n    <sectionGroup name=\"system.webServer\">\n      <section name=\"httpPlatform\" overrideModeDefault=\"Allow\" />\n    </sectionGroup>\n  </configSections>\n  <system.applicationHost>\n    <applicationPools>\n      <add name=\"proxy\" managedRuntimeVersion=\"\" />\n    </applicationPools>\n    <sites>\n      <site name=\"proxy\" id=\"1\">\n        <application path=\"/\" applicationPool=\"proxy\">\n          <virtualDirectory path=\"/\" physicalPath=\"{ROOT}\\site\" />\n        </application>\n        <bindings>\n          <binding protocol=\"http\" bindingInformation=\"127.0.0.1:0:\" />\n        </bindings>\n      </site>\n    </sites>\n  </system.applicationHost>\n  <system.webServer>\n    <globalModules>\n      <add name=\"archway\" image=\"{ROOT}\\bin\\archway_x64.dll\" />\n    </globalModules>\n  </system.webServer>\n</configuration>\n"
    );
    fsx::write_atomic(&root.join("applicationHost.config"), apphost.as_bytes())?;
    Ok(format!(r"{ROOT}\applicationHost.config"))
}

/// The `key=` value of the first stdout line starting with `prefix`.
fn address_of(running: &Running, prefix: &str, key: &str) -> Result<String> {
    let stdout = running.stdout();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix)?.split_whitespace().find_map(|w| w.strip_prefix(key)))
        .map(str::to_string)
        .with_context(|| format!("no `{prefix}… {key}` line:\n{stdout}"))
}

/// Per-request seconds through the handler and direct, alternating rounds.
fn measure(proxied: &str, direct: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut through = Client::connect(proxied)?;
    let mut straight = Client::connect(direct)?;
    // Warm-up, not timed: the handler starts the server on the first request.
    let first =
        through.get("/bench?warm-up").context("the first request through the handler (it starts the backend)")?;
    if !first.contains("\"backend\":\"archway_backend\"") {
        bail!("the handler's answer is not the backend's echo: {first}");
    }
    for _ in 0..WARM_UP {
        through.get("/bench")?;
        straight.get("/bench")?;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            let t = Instant::now();
            through.get("/bench").with_context(|| format!("request {i} of round {round} through the handler"))?;
            a.push(t.elapsed().as_secs_f64());
        }
        for i in 0..PER_ROUND {
            let t = Instant::now();
            straight.get("/bench").with_context(|| format!("request {i} of round {round} direct"))?;
            b.push(t.elapsed().as_secs_f64());
        }
    }
    Ok((a, b))
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// A kept-alive HTTP/1.1 connection: the same minimal client both ways, so the difference is the
/// path, not the client.
struct Client {
    address: String,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(address: &str) -> Result<Client> {
        let stream = TcpStream::connect(address).with_context(|| format!("cannot connect to {address}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?; // the first request starts the backend
        stream.set_nodelay(true)?;
        Ok(Client { address: address.to_string(), writer: stream.try_clone()?, reader: BufReader::new(stream) })
    }

    /// GET `path`: the body of a 200 (Content-Length or chunked); anything else is an error.
    fn get(&mut self, path: &str) -> Result<String> {
        let address = &self.address;
        write!(self.writer, "GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n")
            .with_context(|| format!("sending to {address}"))?;
        let mut line = String::new();
        self.reader.read_line(&mut line).with_context(|| format!("reading the status from {address}"))?;
        let status = line.split(' ').nth(1).unwrap_or_default().to_string();
        let (mut length, mut chunked) = (None, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line).with_context(|| format!("reading headers from {address}"))?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.trim().eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).with_context(|| format!("reading a chunk size from {address}"))?;
                let size = usize::from_str_radix(line.trim_end(), 16)
                    .with_context(|| format!("{address}{path}: a bad chunk size line {line:?}"))?;
                let mut data = vec![0; size + 2];
                self.reader.read_exact(&mut data).with_context(|| format!("reading a chunk from {address}"))?;
                if size == 0 {
                    break; // no trailers: the CRLF after the last chunk was just read
                }
                body.extend_from_slice(&data[..size]);
            }
        } else {
            let length = length.with_context(|| {
                format!("{address}{path}: an answer with neither Content-Length nor chunked (status {status})")
            })?;
            body.resize(length, 0);
            self.reader.read_exact(&mut body).with_context(|| format!("reading the body from {address}"))?;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        if status != "200" {
            bail!("{address}{path}: status {status}: {body}");
        }
        Ok(body)
    }
}
