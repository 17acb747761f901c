//! `cargo xtask arm64-root install`: the recipe carried out stage by stage (debootstrap's two
//! stages, Wine 8 from the host's mirror, the prefix, a check), each with a deadline, a
//! progress line and a marker, under the root's locks, so an interrupted run is repaired and a
//! half-made root is never used.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{
    Arm64Root, STAMP, host, inside,
    lock::{Flock, Mode},
    mounts::{self, Kind, Mounts},
    sources,
    stages::{self, Observed, Plan, Stage},
};
use crate::cmd::Cmd;

const BOOTSTRAP1_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const BOOTSTRAP2_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const APT_UPDATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const APT_INSTALL_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const WINEBOOT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const CHECK_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const QUICK: Duration = Duration::from_secs(60);

/// The mounts apt needs inside (the fact sheet's recipe), and what Wine needs: only /proc
/// (without it `wine: could not load ntdll.so`); debootstrap leaves the device nodes it needs.
const APT_MOUNTS: [Kind; 3] = [Kind::Proc, Kind::Sys, Kind::Dev];
pub const WINE_MOUNTS: [Kind; 1] = [Kind::Proc];

pub fn install(target: &Arm64Root, force: bool) -> Result<Arm64Root> {
    if !force && target.complete() {
        eprintln!("the arm64 root is already provisioned in {} ({})", target.dir.display(), target.wine_version());
        return Ok(target.clone());
    }
    host::check_for_install()?;
    let setup = match Flock::try_take(&target.setup_lock(), Mode::Exclusive)? {
        Some(l) => l,
        None => {
            eprintln!("waiting for another install or session setup of {} …", target.dir.display());
            Flock::wait(&target.setup_lock(), Mode::Exclusive)?
        }
    };
    // A stage's programs (debootstrap, apt-get) that outlive a killed install keep this lock
    // until they finish, so the next install waits for them instead of racing them.
    setup.inherit_into_children()?;
    let Some(users) = Flock::try_take(&target.users_lock(), Mode::Exclusive)? else {
        bail!(
            "the arm64 root {} is in use by an open session (cargo xtask pools, a test): let it finish, then install again",
            target.dir.display()
        );
    };
    // Another install may have finished while this one waited.
    if !force && target.complete() {
        eprintln!("the arm64 root is already provisioned in {} ({})", target.dir.display(), target.wine_version());
        return Ok(target.clone());
    }
    let root = target.path();
    // A killed session or install may have left mounts; nothing may be mounted below a root
    // that is about to be wiped.
    mounts::unmount_all(&root)?;
    let markers = target.markers();
    let plan = stages::plan(target.stamp().is_some(), &markers.done(), Observed::of(&root, &target.prefix()), force);
    let first = match plan {
        Plan::Complete => return Ok(target.clone()),
        Plan::Fresh(why) => {
            if let Some(why) = why {
                eprintln!("making the arm64 root again from nothing: {why}");
            }
            wipe(&target.dir)?;
            Stage::Bootstrap1
        }
        Plan::Resume(stage, why) => {
            eprintln!("resuming the arm64 root at stage {} ({why})", stage.number());
            remove_file(&target.dir.join(STAMP))?;
            markers.clear_from(stage)?;
            stage
        }
    };
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let dump = Cmd::new("apt-config").arg("dump").timeout(QUICK).read().unwrap_or_default();
    let mirrors = sources::choose(&sources::host_sources(Path::new("/etc/apt")));
    eprintln!("packages from {} (as this machine's apt: {})", mirrors.main, mirrors.origin);
    let started = Instant::now();
    let mut wine = String::new();
    for stage in Stage::ALL.into_iter().filter(|s| *s >= first) {
        let at = Instant::now();
        eprintln!(
            "[{}/{}] {} … ({:.0} s)",
            stage.number(),
            Stage::ALL.len(),
            stage.title(),
            started.elapsed().as_secs_f64()
        );
        match stage {
            Stage::Bootstrap1 => bootstrap_first(&root, &mirrors.main, &dump)?,
            Stage::Bootstrap2 => {
                inside::command(&root, None, &[], "/debootstrap/debootstrap", &inside::strings(&["--second-stage"]))
                    .timeout(BOOTSTRAP2_TIMEOUT)
                    .run()
                    .context("debootstrap's second stage failed inside the arm64 root (its log: debootstrap/debootstrap.log in the root)")?;
            }
            Stage::Wine => install_wine(&root, &mirrors, &dump)?,
            Stage::Prefix => make_prefix(target)?,
            Stage::Check => wine = check(target)?,
        }
        markers.mark(stage)?;
        eprintln!("[{}/{}] done in {:.0} s", stage.number(), Stage::ALL.len(), at.elapsed().as_secs_f64());
    }
    let made = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let stamp = format!(
        "recipe={}\nsuite={}\nwine={wine}\nmirror={}\nseconds={:.0}\nmade={made}\n",
        super::RECIPE,
        sources::SUITE,
        mirrors.main,
        started.elapsed().as_secs_f64()
    );
    crate::fsx::write_atomic(&target.dir.join(STAMP), stamp.as_bytes())?;
    eprintln!(
        "provisioned: {wine} (arm64) in {} — {:.0} s, {} MB",
        root.display(),
        started.elapsed().as_secs_f64(),
        super::disk_usage(&target.dir) / 1_000_000
    );
    drop(users);
    drop(setup);
    Ok(target.clone())
}

/// Removes the recipe's folder; refuses while anything is mounted below it (a bound /dev
/// would take the host's device nodes with it).
fn wipe(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    mounts::unmount_all(dir)?;
    if !mounts::mounted_below(dir).is_empty() {
        bail!("refusing to remove {}: something is still mounted below it", dir.display());
    }
    remove_file(&dir.join(STAMP))?;
    let started = Instant::now();
    eprintln!("removing {} …", dir.display());
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove the unusable root {}", dir.display()))?;
    eprintln!("removed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn bootstrap_first(root: &Path, mirror: &str, dump: &str) -> Result<()> {
    let mut cmd = Cmd::new("debootstrap")
        .args(["--arch=arm64", "--variant=minbase", "--foreign", sources::SUITE])
        .arg(root)
        .arg(mirror)
        .timeout(BOOTSTRAP1_TIMEOUT);
    if let Some(proxy) = sources::http_proxy(dump) {
        cmd = cmd.env("http_proxy", proxy);
    }
    cmd.run().with_context(|| format!("debootstrap could not fetch the arm64 base system from {mirror}"))?;
    Ok(())
}

/// Apt commands inside the root: non-interactive, C locale.
fn apt(root: &Path, program: &str, args: &[&str]) -> Cmd {
    let env = [("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string()), ("LC_ALL".to_string(), "C".to_string())];
    inside::command(root, None, &env, program, &inside::strings(args))
}

fn install_wine(root: &Path, mirrors: &sources::Mirrors, dump: &str) -> Result<()> {
    let etc_apt = root.join("etc/apt");
    crate::fsx::write_atomic(&etc_apt.join("sources.list"), sources::root_sources_list(mirrors).as_bytes())?;
    let conf = sources::root_apt_conf(dump);
    if !conf.is_empty() {
        crate::fsx::write_atomic(&etc_apt.join("apt.conf.d/99archway-from-host"), conf.as_bytes())?;
    }
    // Name resolution for apt inside: the host's, as debootstrap set it up.
    if let Ok(resolv) = std::fs::read("/etc/resolv.conf") {
        crate::fsx::write_atomic(&root.join("etc/resolv.conf"), &resolv)?;
    }
    let mounted = Mounts::ensure(root, &APT_MOUNTS)?;
    // After an interrupted install, dpkg finishes what it had unpacked first.
    apt(root, "/usr/bin/dpkg", &["--configure", "-a"])
        .timeout(APT_INSTALL_TIMEOUT)
        .run()
        .context("dpkg --configure -a failed in the arm64 root")?;
    apt(root, "/usr/bin/apt-get", &["update"])
        .timeout(APT_UPDATE_TIMEOUT)
        .run()
        .with_context(|| format!("apt-get update failed in the arm64 root (mirror {})", mirrors.main))?;
    apt(root, "/usr/bin/apt-get", &["install", "-y", "--no-install-recommends", "wine", "wine64"])
        .timeout(APT_INSTALL_TIMEOUT)
        .run()
        .context("apt-get install wine wine64 failed in the arm64 root")?;
    apt(root, "/usr/bin/apt-get", &["clean"]).timeout(QUICK).run()?;
    mounted.release()
}

fn wine_cmd(target: &Arm64Root, program: &str, args: &[&str]) -> Cmd {
    inside::command(&target.path(), None, &inside::wine_env(&[]), program, &inside::strings(args))
}

/// Stops the prefix's wineserver (and every Wine process), so the root can be unmounted.
pub fn stop_wineserver(target: &Arm64Root) {
    let _ = wine_cmd(target, "/usr/bin/wineserver", &["-k"]).timeout(QUICK).output();
}

fn make_prefix(target: &Arm64Root) -> Result<()> {
    let prefix = target.prefix();
    if prefix.exists() {
        std::fs::remove_dir_all(&prefix)
            .with_context(|| format!("cannot remove the half-made prefix {}", prefix.display()))?;
    }
    let mounted = Mounts::ensure(&target.path(), &WINE_MOUNTS)?;
    let result = wine_cmd(target, "/usr/bin/wine", &["wineboot", "--init"])
        .timeout(WINEBOOT_TIMEOUT)
        .run()
        .context("wine wineboot --init failed in the arm64 root");
    // wineboot returns before its wineserver has written the registry to disk.
    let waited = wine_cmd(target, "/usr/bin/wineserver", &["-w"]).timeout(QUICK).run();
    if waited.is_err() {
        stop_wineserver(target);
    }
    result?;
    if !prefix.join("system.reg").is_file() {
        bail!("wineboot finished but {} has no system.reg", prefix.display());
    }
    mounted.release()
}

/// Runs `cmd /c ver` in the prefix and returns `wine --version`.
fn check(target: &Arm64Root) -> Result<String> {
    let mounted = Mounts::ensure(&target.path(), &WINE_MOUNTS)?;
    let result = (|| -> Result<String> {
        let ver = wine_cmd(target, "/usr/bin/wine", &["cmd", "/c", "ver"])
            .timeout(CHECK_TIMEOUT)
            .run()
            .context("`wine cmd /c ver` failed in the arm64 root")?;
        if !ver.stdout.contains("Microsoft Windows") {
            bail!("`wine cmd /c ver` in the arm64 root printed no Windows version:\n{}", ver.stdout);
        }
        eprintln!("{}", ver.stdout.trim());
        wine_cmd(target, "/usr/bin/wine", &["--version"]).timeout(QUICK).read()
    })();
    stop_wineserver(target);
    let version = result?;
    mounted.release()?;
    Ok(version)
}
