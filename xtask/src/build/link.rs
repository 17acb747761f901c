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
    let mut cmd = Cmd::new(&tools.link.path)
        .timeout(std::time::Duration::from_secs(10 * 60))
        .args(["/nologo", "/nodefaultlib", "/debug", "/Brepro", "/opt:ref,icf", "/incremental:no", "/WX"].map(flag));
    // The debug directory names just the PDB file, not where it was built.
    cmd = cmd.arg(flag("/pdbaltpath:") + "%_PDB%");
    if !msvc {
        cmd = cmd.arg("/pdbsourcepath:C:\\archway");
    }
    cmd = cmd.arg(flag(&format!("/machine:{}", spec.link_machine))).arg(flag("/dynamicbase")).arg(flag("/nxcompat"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolchain::{Tool, Version};

    fn tool(path: &str) -> Tool {
        Tool {
            path: path.into(),
            version: Version { major: 19, minor: 0, patch: 0 },
            banner: String::new(),
            origin: "test".into(),
            env: Vec::new(),
        }
    }

    fn tools(flavor: Flavor, link: &str) -> ArchTools {
        ArchTools {
            flavor,
            cxx: tool("cl"),
            asm: tool("clang"),
            link: tool(link),
            implib: tool("lib"),
            rc: tool("llvm-rc"),
            extra_cxx_flags: Vec::new(),
        }
    }

    /// The link line as `build::plan` makes it (paths relative to the build folder).
    fn step(flavor: Flavor, link: &str) -> Step {
        let spec = ArchSpec {
            arch: Arch::X64,
            clang_target: "x86_64-pc-windows-msvc".into(),
            link_machine: "x64".into(),
            dlltool_machine: "i386:x86-64".into(),
        };
        let bin = Binary {
            name: "archway".into(),
            kind: Kind::Dll,
            description: String::new(),
            dir: "/checkout/module".into(),
            sources: vec!["/checkout/module/src/shim.cpp".into()],
            def: Some("/checkout/module/archway.def".into()),
            entry: "DllMain".into(),
            imports: vec!["/checkout/native/imports/kernel32.def".into()],
            exports: vec!["RegisterModule".into()],
        };
        let dir = PathBuf::from("obj/x64/archway");
        let io = LinkInputs {
            objects: vec!["obj/x64/runtime/common_new.cpp.obj".into(), dir.join("src_shim.cpp.obj")],
            res: dir.join("version.res"),
            import_libs: vec!["obj/x64/imports/kernel32.lib".into()],
            def: Some(dir.join("archway.def")),
            out: "bin/archway_x64.dll".into(),
            pdb: "bin/archway_x64.pdb".into(),
            implib: Some(dir.join("archway_x64.lib")),
        };
        link_step(&spec, &tools(flavor, link), Path::new("/checkout/target/archway/release"), &bin, &io)
    }

    /// link.exe records its command line and object names in the PDB as given: with MSVC as with
    /// lld-link, every path on the line is relative to the build folder, the folder it runs in
    /// (docs/toolchains.md §5). [UNCERTAIN] link.exe may still make object names absolute in the
    /// PDB's module list; the build test scans MSVC's DLLs, not its PDBs, for the checkout path,
    /// and the Windows MSVC jobs run it.
    #[test]
    fn link_lines_name_only_relative_paths_with_either_linker() {
        let llvm = step(Flavor::Llvm, "/usr/bin/lld-link");
        let msvc = step(Flavor::Msvc, r"C:\VS\bin\Hostx64\x64\link.exe");
        for s in [&llvm, &msvc] {
            assert_eq!(s.cwd, Path::new("/checkout/target/archway/release"));
            for arg in &s.cmd.argv()[1..] {
                // A flag's value after its first colon; lld-link's /pdbsourcepath is a fixed
                // stand-in root, not a folder of this machine.
                let value = match (arg.starts_with('/'), arg.split_once(':')) {
                    (false, _) => arg.as_str(),
                    (true, None) => continue,
                    (true, Some(_)) if arg.starts_with("/pdbsourcepath:") => continue,
                    (true, Some((_, v))) => v,
                };
                let absolute =
                    value.starts_with('/') || value.starts_with('\\') || value.as_bytes().get(1) == Some(&b':');
                assert!(!absolute && !arg.contains("checkout"), "absolute path in {arg}");
            }
        }
        // The two lines differ only in the flags' case and lld-link's /pdbsourcepath.
        let lower = |s: &Step| {
            s.cmd.argv()[1..]
                .iter()
                .filter(|a| !a.starts_with("/pdbsourcepath:"))
                .map(|a| a.to_lowercase())
                .collect::<Vec<_>>()
        };
        assert_eq!(lower(&llvm), lower(&msvc));
        assert!(msvc.cmd.argv().iter().any(|a| a == "/PDBALTPATH:%_PDB%"), "{:?}", msvc.cmd.argv());
    }
}
