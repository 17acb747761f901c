//! `cargo xtask verify FILE…`: each file's views and exports, its forwarders checked against the
//! files beside it, and, for a binary of this workspace recognised by its name
//! (`<binary>_<arch>.dll`), every check the build runs after linking.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::{Expectation, ImageKind, forwards};
use crate::{
    binaries::{self, Binary, Kind},
    matrix::Arch,
    project::Project,
};

/// Print DLLs' exports (an Arm64X file in both views), check their forwarders against the
/// target files beside them and the Arm64X invariants, and run the build's own checks on
/// files named like this workspace's outputs (<binary>_<arch>.dll).
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Examples:\n  cargo xtask verify target/archway/release/bin/archway.dll\n  \
    cargo xtask verify path/to/aspnetcorev2.dll path/to/other.dll")]
pub struct Args {
    /// The DLLs (or EXEs) to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `cargo xtask verify`; `project` is None outside a checkout, where only the forwarder
/// checks apply.
pub fn run(project: Option<&Project>, args: Args) -> Result<()> {
    let workspace = project.and_then(|p| binaries::discover(&p.root).ok().map(|b| (p, b)));
    let files = &args.files;
    let mut failed = 0;
    for file in files {
        let outcome = forwards::describe(file).and_then(|text| {
            println!("{}", text.trim_end());
            forwards::check(file)?;
            if let Some((project, binaries)) = &workspace
                && let Some((bin, arch)) = built_from(file, binaries)
            {
                build_checks(file, bin, arch, project.version)?;
                println!("  built as {} for {arch}: the build's checks hold too", bin.name);
            }
            Ok(())
        });
        match outcome {
            Ok(()) => println!("  ok: every check holds"),
            Err(err) => {
                eprintln!("error: {err:#}");
                failed += 1;
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => bail!("{n} of {} files failed verification", files.len()),
    }
}

/// The workspace binary and architecture whose build output `file` is named like.
fn built_from<'a>(file: &Path, binaries: &'a [Binary]) -> Option<(&'a Binary, Arch)> {
    let name = file.file_name()?.to_str()?;
    binaries.iter().find_map(|bin| {
        Arch::ALL.into_iter().find(|arch| bin.file_name(*arch).eq_ignore_ascii_case(name)).map(|arch| (bin, arch))
    })
}

fn build_checks(file: &Path, bin: &Binary, arch: Arch, version: [u16; 4]) -> Result<()> {
    let allowed = bin.allowed_imports();
    let expect = Expectation {
        arch,
        kind: match bin.kind {
            Kind::Dll => ImageKind::Dll,
            Kind::Exe => ImageKind::Exe,
        },
        exports: &bin.exports,
        allowed_imports: &allowed,
        version,
    };
    super::check(file, &expect).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_outputs_are_recognised_by_name() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let binaries = binaries::discover(root).unwrap();
        let (bin, arch) = built_from(Path::new("some/where/archway_diagnostics_ARM64EC.dll"), &binaries).unwrap();
        assert_eq!((bin.name.as_str(), arch), ("archway_diagnostics", Arch::Arm64Ec));
        assert!(built_from(Path::new("archway.dll"), &binaries).is_none(), "a forwarder is not a build output");
        assert!(built_from(Path::new("kernel32.dll"), &binaries).is_none());
    }
}
