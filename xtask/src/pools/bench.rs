//! `cargo xtask bench pools`: the wall time of this machine's pool matrix, and requests per
//! second through the worker stand-in (x64 row, Wine: HTTP parsing, the module, the shim and
//! the diagnostics handler) against a direct loopback round trip to a minimal HTTP server in
//! this process, with the same client and the same body size, in the same run.

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{Outcome, apphost::AppHost, check, install, rows, standin};
use crate::{
    msi::Platform,
    project::Project,
    winhost::{WindowsHost, wine::HostWine},
};

const REQUESTS: usize = 400;

pub fn run(project: &Project) -> Result<()> {
    // Not timed.
    let packages = crate::dist::given_or_built(None, project, "bench pools")?;
    let bin_dir = project.build_dir("release").join("bin");
    let all = rows::load(&project.root)?;

    let start = Instant::now();
    let lines = super::run_standin(project, &all, &packages, &bin_dir, &[], true, false)?;
    let matrix = start.elapsed();
    let ran = lines.iter().filter(|l| l.outcome == Outcome::Passed).count();
    let failed = lines.iter().filter(|l| matches!(l.outcome, Outcome::Failed(_))).count();
    if failed > 0 {
        println!("{}", super::render(&lines));
        bail!("{failed} pool row(s) failed; fix them before measuring");
    }

    let row = all
        .iter()
        .find(|r| r.host == rows::HostMachine::X64 && r.worker == rows::WorkerArch::X64)
        .context("matrix.toml has no x64 row")?;
    let wine = HostWine::find().context("Wine is not installed (apt-get install wine64)")?;
    let host = HostWine::open(&wine, &project.target_dir.join("archway").join("pools").join("wine-x64"))?;
    let installed = install::lay_out(&super::find_package(&packages, Platform::X64)?, &host.drive_c())?;
    let exe = standin::install_worker(&host, &bin_dir, row.worker, row.worker)?;
    let config = standin::write_config(
        &host,
        &AppHost::new(std::slice::from_ref(row), |_| 0, |r| format!(r"C:\inetpub\{}", r.name)),
    )?;
    let worker = standin::start_worker(&host, &exe, &row.name, &config, &[])?;
    let agent = standin::agent();
    let url = format!("/pools/{}", row.name);
    let (status, body) = standin::get(&agent, &worker.address, &url)?;
    let mut problems = Vec::new();
    check::diagnostics(row, &installed, &url, &serde_json::from_str(&body).unwrap_or_default(), &mut problems);
    if status != 200 || !problems.is_empty() {
        bail!("the x64 row does not serve: {status} {problems:?}");
    }
    let through_worker = requests_per_second(&agent, &worker.address, &url)?;
    worker.running.stop(Duration::from_secs(15))?;

    let direct = DirectServer::start(body.len())?;
    let direct_rps = requests_per_second(&agent, &direct.address, &url)?;

    println!(
        "pool matrix: {} rows and faults passed in {:.1} s ({} not run here)",
        ran,
        matrix.as_secs_f64(),
        lines.len() - ran
    );
    println!("x64 row, {REQUESTS} requests on one kept-alive connection ({} bytes each):", body.len());
    println!("  through the stand-in (Wine, module, shim, diagnostics handler): {through_worker:>9.0} requests/s");
    println!("  direct loopback round trip (minimal server in this process):    {direct_rps:>9.0} requests/s");
    println!("  ratio: the stand-in path takes {:.1}x as long per request", direct_rps / through_worker);
    Ok(())
}

fn requests_per_second(agent: &ureq::Agent, address: &str, url: &str) -> Result<f64> {
    for _ in 0..20 {
        standin::get(agent, address, url)?; // warm up: connection, caches
    }
    let start = Instant::now();
    for i in 0..REQUESTS {
        let (status, _) = standin::get(agent, address, url)?;
        if status != 200 {
            bail!("request {i} to {address}: {status}");
        }
    }
    Ok(REQUESTS as f64 / start.elapsed().as_secs_f64())
}

/// The peer: answers every request on a kept-alive connection with a fixed body.
struct DirectServer {
    address: String,
}

impl DirectServer {
    fn start(body_len: usize) -> Result<DirectServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n{}",
            "x".repeat(body_len)
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let response = response.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().expect("a socket clones");
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    loop {
                        // One request: lines up to the empty one (no bodies in this benchmark).
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => {
                                if writer.write_all(response.as_bytes()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                        }
                    }
                });
            }
        });
        Ok(DirectServer { address })
    }
}
