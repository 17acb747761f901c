//! What a pool row must show from inside and outside its worker: the diagnostics handler's JSON
//! (process and native machine, emulation, which files serve, the product version, the pool)
//! and the module path the worker expanded and loaded, against what the row and the installed
//! package say. Each mismatch is one line naming the field, what was seen and what was expected.

use serde_json::Value;

use super::{
    install::Installed,
    rows::{HostMachine, PoolRow, WorkerArch},
};

/// `%ProgramFiles%` as a worker of `worker`'s bitness sees it on 64-bit Windows (docs/pools.md,
/// "Paths per bitness"). The expectation only: the worker expands the variable itself.
pub fn program_files(worker: WorkerArch) -> &'static str {
    if worker.is_64bit() { r"C:\Program Files" } else { r"C:\Program Files (x86)" }
}

/// The module image a worker of the row must load, expanded.
pub fn expected_image(row: &PoolRow) -> String {
    format!(r"{}\Archway\archway.dll", program_files(row.worker))
}

/// What one request told about the row.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The file whose code runs the module (behind a forwarder, the file it forwards to).
    pub shim_path: String,
}

/// Checks the diagnostics JSON of a request to `url` in `row`'s pool.
pub fn diagnostics(
    row: &PoolRow,
    installed: &Installed,
    url: &str,
    json: &Value,
    problems: &mut Vec<String>,
) -> Observed {
    let mut expect = |what: &str, seen: &Value, want: &Value| {
        if seen != want {
            problems.push(format!("{what}: {seen} (expected {want})"));
        }
    };
    let body = json;
    let process = &body["process"];
    let native = match row.host {
        HostMachine::X64 => "x64",
        HostMachine::Arm64 => "arm64",
    };
    expect("process.machine", &process["machine"], &row.worker.name().into());
    expect("process.native_machine", &process["native_machine"], &native.into());
    expect("process.wow64", &process["wow64"], &(row.worker == WorkerArch::X86).into());
    // Emulation is x86 or x64 code on an ARM64 machine; WOW64 on x64 is not.
    expect(
        "process.emulated",
        &process["emulated"],
        &(row.host == HostMachine::Arm64 && row.worker != WorkerArch::Arm64).into(),
    );
    expect("product", &body["product"], &"archway".into());
    expect("request.app_pool", &body["request"]["app_pool"], &row.name.as_str().into());
    expect("request.method", &body["request"]["method"], &"GET".into());
    expect("request.url", &body["request"]["url"], &url.into());
    let version = body["version"].as_str().unwrap_or_default();
    if installed.product_version.is_empty() || !version.starts_with(&installed.product_version) {
        problems.push(format!("version: {version:?} (the installed package is {:?})", installed.product_version));
    }

    // Which files serve: the image at its install path, or behind a forwarder the file it
    // forwards to for this process's machine, and the handler beside it with the same suffix.
    let shim_arch = body["shim"]["arch"].as_str().unwrap_or_default().to_string();
    let allowed_arch: &[&str] = match row.worker {
        WorkerArch::X86 => &["x86"],
        WorkerArch::X64 => &["x64", "arm64ec"],
        WorkerArch::Arm64 => &["arm64"],
    };
    if !allowed_arch.contains(&shim_arch.as_str()) {
        problems.push(format!("shim.arch: {shim_arch:?} cannot run in an {} worker", row.worker));
    }
    let image = expected_image(row);
    let folder = &image[..image.rfind('\\').unwrap_or(0)];
    let forwarder = installed.file(&image).is_some_and(|f| f.forwarder);
    let suffix = if forwarder { format!("_{shim_arch}") } else { String::new() };
    let shim_path = body["shim"]["path"].as_str().unwrap_or_default().to_string();
    let want_shim = format!(r"{folder}\archway{suffix}.dll");
    if !shim_path.eq_ignore_ascii_case(&want_shim) {
        problems.push(format!("shim.path: {shim_path:?} (expected {want_shim:?})"));
    }
    let handler = body["handler"]["path"].as_str().unwrap_or_default();
    let want_handler = format!(r"{folder}\archway_diagnostics{suffix}.dll");
    if !handler.eq_ignore_ascii_case(&want_handler) {
        problems.push(format!("handler.path: {handler:?} (expected {want_handler:?})"));
    }
    let modules: Vec<&str> =
        body["modules"].as_array().map(|m| m.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if !modules.iter().any(|m| m.eq_ignore_ascii_case(&image)) {
        problems.push(format!("modules: {modules:?} lacks the registered image {image:?}"));
    }
    for (what, path) in [("shim", &want_shim), ("handler", &want_handler)] {
        if installed.file(path).is_none() {
            problems.push(format!("{what}: {path} is not a file the package installed"));
        }
    }
    Observed { shim_path }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pools::{install::InstalledFile, rows::PoolAttributes};

    fn row(host: HostMachine, worker: WorkerArch) -> PoolRow {
        PoolRow {
            name: "p".into(),
            host,
            attributes: PoolAttributes {
                enable_32bit_app_on_win64: worker == WorkerArch::X86,
                enable_emulation_on_win_arm64: None,
            },
            worker,
            package: crate::msi::Platform::Arm64,
            uncertain: None,
        }
    }

    fn installed(files: &[(&str, bool)]) -> Installed {
        Installed {
            product_version: "0.1.0".into(),
            files: files
                .iter()
                .map(|(p, f)| InstalledFile {
                    windows_path: p.to_string(),
                    host_path: Default::default(),
                    forwarder: *f,
                })
                .collect(),
        }
    }

    fn arm64_package() -> Installed {
        installed(&[
            (r"C:\Program Files\Archway\archway.dll", true),
            (r"C:\Program Files\Archway\archway_arm64.dll", false),
            (r"C:\Program Files\Archway\archway_diagnostics_arm64.dll", false),
        ])
    }

    fn native_arm64_answer() -> Value {
        serde_json::json!({
            "product": "archway", "version": "0.1.0.0",
            "shim": {"arch": "arm64", "path": r"C:\Program Files\Archway\archway_arm64.dll"},
            "handler": {"name": "diagnostics", "arch": "arm64", "path": r"C:\Program Files\Archway\archway_diagnostics_arm64.dll"},
            "process": {"machine": "arm64", "native_machine": "arm64", "wow64": false, "emulated": false},
            "modules": [r"C:\Program Files\Archway\archway.dll", r"C:\Program Files\Archway\archway_arm64.dll"],
            "request": {"method": "GET", "url": "/pools/p", "app_pool": "p"}
        })
    }

    #[test]
    fn a_native_arm64_worker_behind_the_forwarder_passes() {
        let mut problems = Vec::new();
        let seen = diagnostics(
            &row(HostMachine::Arm64, WorkerArch::Arm64),
            &arm64_package(),
            "/pools/p",
            &native_arm64_answer(),
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(seen.shim_path, r"C:\Program Files\Archway\archway_arm64.dll");
    }

    #[test]
    fn a_worker_of_the_wrong_machine_is_named() {
        let mut problems = Vec::new();
        diagnostics(
            &row(HostMachine::Arm64, WorkerArch::X64),
            &arm64_package(),
            "/pools/p",
            &native_arm64_answer(),
            &mut problems,
        );
        let text = problems.join("\n");
        assert!(text.contains(r#"process.machine: "arm64" (expected "x64")"#), "{text}");
        assert!(text.contains(r#"process.emulated: false (expected true)"#), "{text}");
        assert!(text.contains(r#"shim.arch: "arm64" cannot run in an x64 worker"#), "{text}");
    }

    #[test]
    fn files_from_outside_the_install_folder_are_named() {
        let mut answer = native_arm64_answer();
        answer["shim"]["path"] = r"Z:\build\archway_arm64.dll".into();
        let mut problems = Vec::new();
        diagnostics(&row(HostMachine::Arm64, WorkerArch::Arm64), &arm64_package(), "/pools/p", &answer, &mut problems);
        assert_eq!(
            problems,
            [r#"shim.path: "Z:\\build\\archway_arm64.dll" (expected "C:\\Program Files\\Archway\\archway_arm64.dll")"#]
        );
    }

    #[test]
    fn an_x86_worker_expects_program_files_x86() {
        assert_eq!(
            expected_image(&row(HostMachine::X64, WorkerArch::X86)),
            r"C:\Program Files (x86)\Archway\archway.dll"
        );
        assert_eq!(expected_image(&row(HostMachine::Arm64, WorkerArch::X64)), r"C:\Program Files\Archway\archway.dll");
    }
}
