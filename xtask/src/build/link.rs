//! Import-library and link steps. Every path on a linker command line is relative to the build
//! folder: lld-link stores its whole command line in the PDB, so an absolute path would make
//! the PDB, and through its GUID the DLL, depend on where the checkout is (docs/toolchains.md §5).

use std::path::{Path, PathBuf};

use super::step::Step;
use crate::{
    binaries::{Binary, Kind},
    cmd::Cmd,
    matrix::{Arch, ArchSpec},
    toolchain::{ArchTools, Flavor},
};

/// `def` (already rewritten for the architecture) → `lib`.
pub fn implib_step(spec: &ArchSpec, tools: &ArchTools, build_dir: &Path, def: &Path, lib: &Path) -> Step {
    let cmd = match tools.flavor {
        Flavor::Llvm => {
            let mut cmd = Cmd::new(&tools.implib.path).arg("-m").arg(&spec.dlltool_machine);
            // x86: keep `Name@12` for the linker, import the undecorated name (docs/toolchains.md §4.2).
            if spec.arch == Arch::X86 {
                cmd = cmd.arg("-k");
            }
            cmd.arg("-d").arg(def).arg("-l").arg(lib)
        }
        // UNCERTAIN (docs/toolchains.md §4.2 covers llvm-dlltool only): lib.exe is expected to turn
        // `Name@12` in an x86 .def into an undecorated import, as the SDK's import libraries do;
        // the Windows CI job checks the x86 import table.
        Flavor::Msvc => Cmd::new(&tools.implib.path)
            .args(["/NOLOGO", "/Brepro"])
            .arg(format!("/MACHINE:{}", spec.link_machine.to_uppercase()))
            .arg(format!("/DEF:{}", def.display()))
            .arg(format!("/OUT:{}", lib.display())),
    };
    let cmd = tools.implib.env.iter().fold(cmd.timeout(std::time::Duration::from_secs(120)), |c, (k, v)| c.env(k, v));
    Step {
        label: format!("import library {} {}", spec.arch, lib.file_name().unwrap().to_string_lossy()),
        cmd,
        cwd: build_dir.to_path_buf(),
        outputs: vec![lib.to_path_buf()],
        inputs: vec![def.to_path_buf()],
        tool: tools.implib.identity(),
        depfile: None,
        fingerprint: None,
    }
}

/// What one link consumes and produces, all relative to the build folder.
pub struct LinkInputs {
    pub objects: Vec<PathBuf>,
    pub res: PathBuf,
    pub import_libs: Vec<PathBuf>,
    /// The binary's `.def`, copied into the build folder.
    pub def: Option<PathBuf>,
    pub out: PathBuf,
    pub pdb: PathBuf,
    pub implib: Option<PathBuf>,
}

pub fn link_step(spec: &ArchSpec, tools: &ArchTools, build_dir: &Path, bin: &Binary, io: &LinkInputs) -> Step {
    let msvc = tools.flavor == Flavor::Msvc;
    let flag = |lld: &str| if msvc { lld.to_uppercase() } else { lld.to_string() };
    let mut cmd = Cmd::new(&tools.link.path).timeout(std::time::Duration::from_secs(10 * 60)).args(["/nologo", "/nodefaultlib", "/debug", "/Brepro", "/opt:ref,icf", "/incremental:no", "/WX"].map(flag));
    // The debug directory names just the PDB file, not where it was built.
    cmd = cmd.arg(flag("/pdbaltpath:") + "%_PDB%");
    if !msvc {
        cmd = cmd.arg("/pdbsourcepath:C:\\archway");
    }
    cmd = cmd
        .arg(flag(&format!("/machine:{}", spec.link_machine)))
        .arg(flag("/dynamicbase"))
        .arg(flag("/nxcompat"));
    if spec.arch.is_64bit() {
        cmd = cmd.arg(flag("/highentropyva"));
    }
    if spec.arch == Arch::X86 {
        cmd = cmd.arg(flag("/safeseh"));
    }
    match bin.kind {
        Kind::Dll => cmd = cmd.arg(flag("/dll")),
        Kind::Exe => cmd = cmd.arg(flag("/subsystem:console")),
    }
    cmd = cmd.arg(format!("{}{}", flag("/entry:"), bin.entry));
    if let Some(def) = &io.def {
        cmd = cmd.arg(format!("{}{}", flag("/def:"), def.display()));
    }
    if let Some(implib) = &io.implib {
        cmd = cmd.arg(format!("{}{}", flag("/implib:"), implib.display()));
    }
    cmd = cmd
        .arg(format!("{}{}", flag("/out:"), io.out.display()))
        .arg(format!("{}{}", flag("/pdb:"), io.pdb.display()))
        .args(&io.objects)
        .arg(&io.res)
        .args(&io.import_libs);
    let cmd = tools.link.env.iter().fold(cmd, |c, (k, v)| c.env(k, v));
    let mut inputs = io.objects.clone();
    inputs.push(io.res.clone());
    inputs.extend(io.import_libs.iter().cloned());
    inputs.extend(io.def.iter().cloned());
    let mut outputs = vec![io.out.clone(), io.pdb.clone()];
    outputs.extend(io.implib.iter().cloned());
    Step {
        label: format!("link {}", io.out.file_name().unwrap().to_string_lossy()),
        cmd,
        cwd: build_dir.to_path_buf(),
        outputs,
        inputs,
        tool: tools.link.identity(),
        depfile: None,
        fingerprint: None,
    }
}
