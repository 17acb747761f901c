//! The emulated ARM64 Windows host on x86_64 Linux: an arm64 Debian 12 root with its own arm64
//! Wine 8, run through qemu-user in a chroot (`cargo xtask arm64-root install|status|run`),
//! provisioned into archway's cache folder like the pinned LLVM, and a `WindowsHost` session on
//! it for the pool tests (`session.rs`).

mod host;
mod inside;
mod lock;
mod mounts;
mod provision;
mod run;
mod session;
mod sources;
mod stages;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub use session::Arm64Wine;

use crate::winhost::WindowsHost;

/// The recipe's version: part of the folder name, so a changed recipe makes a new root.
pub const RECIPE: u32 = 1;
/// Written last by `install`: a folder without it is never used.
const STAMP: &str = "archway-provisioned";

/// The emulated ARM64 host: an arm64 Debian 12 root with arm64 Wine 8 under qemu-user, in
/// archway's cache folder, where the native ARM64 pools run on x86_64 Linux.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  cargo xtask arm64-root install\n  cargo xtask arm64-root status\n  \
    cargo xtask arm64-root run path/to/prog.exe -- arg1")]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Create the arm64 Debian 12 root with arm64 Wine 8 in archway's cache folder (root only:
    /// debootstrap, chroot and mount). A half-made root is repaired; a complete one is kept.
    #[command(
        after_help = "Examples:\n  cargo xtask arm64-root install\n  ARCHWAY_CACHE_DIR=/var/cache/archway cargo xtask arm64-root install --force\n\n\
        Needs: apt-get install qemu-user-static binfmt-support debootstrap (3 to 6 minutes on two busy cores; about 670 MB).\n\
        Packages come from the mirror this machine's apt uses (/etc/apt/sources.list.d/*.sources)."
    )]
    Install {
        /// Remove the root and make it again even when it is complete.
        #[arg(long)]
        force: bool,
    },
    /// Where the root is, what is in it (Wine version, size), whether it is complete and in
    /// use. Exits non-zero when it is not complete.
    #[command(after_help = "Example:\n  cargo xtask arm64-root status")]
    Status,
    /// Run an ARM64 Windows program in the root, in a session, printing its output as it
    /// comes and failing with its exit code. A program below the root's C:\ runs where it is;
    /// any other has the .exe and .dll files of its folder copied to C:\archway-run\<pid>\
    /// (removed afterwards).
    #[command(
        after_help = "Examples:\n  cargo xtask arm64-root run target/archway/release/bin/archway_worker_arm64.exe -- -h C:\\x\\applicationHost.config\n  \
        cargo xtask arm64-root run --stdin-stops --timeout 600 path/to/prog.exe -- arg1 arg2"
    )]
    Run {
        /// The program (a file on this machine).
        program: PathBuf,
        /// Its arguments.
        #[arg(last = true)]
        args: Vec<String>,
        /// Close the program's stdin when this command's stdin ends (the worker stand-in's
        /// stop signal); otherwise it stays open until the program exits.
        #[arg(long)]
        stdin_stops: bool,
        /// Kill the program after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        timeout: u64,
    },
}

pub fn run(action: Action) -> Result<()> {
    match action {
        Action::Install { force } => Arm64Root::provision(force).map(drop),
        Action::Status => status(),
        Action::Run { program, args, stdin_stops, timeout } => {
            run::program(&program, &args, stdin_stops, std::time::Duration::from_secs(timeout))
        }
    }
}

/// A complete arm64 root: `<cache>/arm64-root/bookworm-<RECIPE>/`, the chroot in `root/`.
#[derive(Clone, Debug)]
pub struct Arm64Root {
    dir: PathBuf,
}

impl Arm64Root {
    /// The complete root of this recipe, if there is one (nothing is started or mounted).
    pub fn locate() -> Result<Option<Arm64Root>> {
        let Some(dir) = recipe_dir() else { return Ok(None) };
        let root = Arm64Root { dir };
        Ok(root.complete().then_some(root))
    }

    /// Whether the stamp is there and every stage's result still is (nothing removed since).
    pub fn complete(&self) -> bool {
        let seen = stages::Observed::of(&self.path(), &self.prefix());
        stages::plan(self.stamp().is_some(), &self.markers().done(), seen, false) == stages::Plan::Complete
    }

    /// Makes the root (or repairs a half-made one); `force` makes it again from nothing.
    pub fn provision(force: bool) -> Result<Arm64Root> {
        let dir = recipe_dir().context("no cache folder: set ARCHWAY_CACHE_DIR (or HOME)")?;
        provision::install(&Arm64Root { dir }, force)
    }

    /// The chroot's top folder on this machine.
    pub fn path(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// The Wine prefix on this machine (`/var/lib/archway-wine` inside the root).
    pub fn prefix(&self) -> PathBuf {
        self.path().join(inside::PREFIX.trim_start_matches('/'))
    }

    /// What `wine --version` said when the root was made, e.g. "wine-8.0 (Debian 8.0~repack-4)".
    pub fn wine_version(&self) -> String {
        self.stamp().and_then(|s| stamp_field(&s, "wine")).unwrap_or_else(|| "Wine".to_string())
    }

    /// Opens a session (mounts, persistent wineserver); sessions are shared (see `session.rs`).
    pub fn session(&self) -> Result<Arm64Wine> {
        Arm64Wine::open(self)
    }

    fn stamp(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join(STAMP)).ok()?;
        (stamp_field(&text, "recipe").as_deref() == Some(&RECIPE.to_string())).then_some(text)
    }

    fn markers(&self) -> stages::Markers {
        stages::Markers { dir: self.dir.join("stages") }
    }

    /// The lock held exclusively while the root is set up, torn down or provisioned.
    fn setup_lock(&self) -> PathBuf {
        lock_path(&self.dir, "setup")
    }

    /// The lock every process with a session holds shared.
    fn users_lock(&self) -> PathBuf {
        lock_path(&self.dir, "users")
    }
}

/// The locks live beside the recipe's folder, so wiping it keeps them.
fn lock_path(dir: &Path, what: &str) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.with_file_name(format!(".{name}.{what}.lock"))
}

/// `<cache>/arm64-root/bookworm-<RECIPE>`.
pub fn recipe_dir() -> Option<PathBuf> {
    crate::toolchain::provision::cache_dir().map(|c| c.join("arm64-root").join(format!("{}-{RECIPE}", sources::SUITE)))
}

fn stamp_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('=')).map(str::to_string)
}

/// The session the pool driver uses: the provisioned root's Wine, or what to do to get it.
pub fn open_session() -> Result<Box<dyn WindowsHost>> {
    match Arm64Root::locate()? {
        Some(root) => Ok(Box::new(root.session()?)),
        None => bail!(
            "the emulated ARM64 root is not provisioned: run `cargo xtask arm64-root install` as root \
             (needs apt-get install {})",
            host::PACKAGES.join(" ")
        ),
    }
}

fn status() -> Result<()> {
    let dir = recipe_dir().context("no cache folder: set ARCHWAY_CACHE_DIR (or HOME)")?;
    let root = Arm64Root { dir };
    println!("arm64 root: {}", root.path().display());
    let stamp = root.stamp().filter(|_| root.complete());
    let done = root.markers().done();
    match &stamp {
        Some(_) => println!("state:      complete (recipe {RECIPE}, Debian {} arm64)", sources::SUITE),
        None if root.dir.exists() => println!(
            "state:      incomplete ({} of {} stages done): run `cargo xtask arm64-root install` to finish it",
            done.len(),
            stages::Stage::ALL.len()
        ),
        None => println!("state:      absent: run `cargo xtask arm64-root install` (as root)"),
    }
    if let Some(text) = &stamp {
        for (key, label, unit) in [
            ("wine", "wine:      ", ""),
            ("mirror", "mirror:    ", ""),
            ("seconds", "took:      ", " s (the last install run)"),
        ] {
            if let Some(value) = stamp_field(text, key) {
                println!("{label} {value}{unit}");
            }
        }
        println!("prefix:     {} (C:\\ is {})", inside::PREFIX, root.prefix().join("drive_c").display());
    }
    if root.dir.exists() {
        println!("size:       {} MB", disk_usage(&root.dir) / 1_000_000);
        let mounted = mounts::mounted_below(&root.path());
        if !mounted.is_empty() {
            let names: Vec<String> =
                mounted.iter().map(|p| p.strip_prefix(root.path()).unwrap_or(p).display().to_string()).collect();
            println!(
                "mounted:    {} (a session is open, or one was killed: the next session or install cleans up)",
                names.join(", ")
            );
        }
    }
    let others: Vec<String> = root
        .dir
        .parent()
        .and_then(|p| std::fs::read_dir(p).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir() && e.path() != root.dir)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !others.is_empty() {
        println!("other recipes (unused; remove with rm -rf when unmounted): {}", others.join(", "));
    }
    if stamp.is_none() {
        bail!("the arm64 root is not complete");
    }
    Ok(())
}

/// Bytes on disk below `dir`, not crossing into other file systems (a mounted /proc or /dev).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else { return 0 };
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != top.dev() {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_sit_beside_the_recipe_folder_and_the_stamp_is_read_by_key() {
        let dir = Path::new("/c/arm64-root/bookworm-1");
        assert_eq!(lock_path(dir, "users"), Path::new("/c/arm64-root/.bookworm-1.users.lock"));
        let stamp = "recipe=1\nwine=wine-8.0 (Debian 8.0~repack-4)\n";
        assert_eq!(stamp_field(stamp, "wine").as_deref(), Some("wine-8.0 (Debian 8.0~repack-4)"));
        assert_eq!(stamp_field(stamp, "recip"), None);
    }

    #[test]
    fn a_root_without_its_stamp_or_of_another_recipe_is_not_located() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Arm64Root { dir: tmp.path().join("bookworm-1") };
        assert!(root.stamp().is_none());
        std::fs::create_dir_all(&root.dir).unwrap();
        std::fs::write(root.dir.join(STAMP), format!("recipe={}\n", RECIPE + 1)).unwrap();
        assert!(root.stamp().is_none(), "another recipe's stamp");
        std::fs::write(root.dir.join(STAMP), format!("recipe={RECIPE}\nwine=wine-8.0\n")).unwrap();
        assert_eq!(root.wine_version(), "wine-8.0");
    }
}
