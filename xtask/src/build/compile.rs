//! Compile and assemble steps. The `cc` crate, used as a library, chooses the compiler's
//! family-specific base flags for the explicit target; archway adds the freestanding and
//! determinism flags of docs/toolchains.md §4.1 and §5 and runs each unit as its own step.
//!
//! Compilers run in the checkout root and see every source by its root-relative path: clang
//! names MSVC-ABI anonymous namespaces (`?A0x<hash>`) after the main file's path as given,
//! unaffected by `-ffile-prefix-map`, and ARM64EC thunks carry those names into the DLL, so an
//! absolute path would make the bytes depend on where the checkout is.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{
    Profile,
    step::{DepFile, Step},
};
use crate::{
    cmd::Cmd,
    matrix::ArchSpec,
    toolchain::{ArchTools, Flavor, Tool, probe::Prober},
};

/// What every unit of one architecture shares.
pub struct UnitContext<'a> {
    pub spec: &'a ArchSpec,
    pub tools: &'a ArchTools,
    /// The checkout root; compile steps run here.
    pub root: &'a Path,
    /// The build folder as the compiler sees it: relative to the root when it lies inside.
    pub build_dir: PathBuf,
    /// Include folders, relative to the root or absolute.
    pub includes: Vec<PathBuf>,
    /// The compiler and assembler with cc's base flags, resolved once: cc runs the compiler to
    /// learn its family, which a no-op build cannot afford per unit.
    cxx_base: Cmd,
    asm_base: Cmd,
}

impl<'a> UnitContext<'a> {
    pub fn new(
        spec: &'a ArchSpec,
        tools: &'a ArchTools,
        profile: Profile,
        root: &'a Path,
        build_dir: &Path,
        prober: &mut Prober,
    ) -> Result<Self> {
        let cxx_base = base_command(spec, profile, build_dir, &tools.cxx, true, prober)?;
        let asm_base = base_command(spec, profile, build_dir, &tools.asm, false, prober)?;
        let build_dir = build_dir.strip_prefix(root).unwrap_or(build_dir).to_path_buf();
        let includes = vec![PathBuf::from("native").join("include"), build_dir.join("gen")];
        Ok(UnitContext { spec, tools, root, build_dir, includes, cxx_base, asm_base })
    }
}

/// cc's command for `tool`, remembered per version of the tool's file.
fn base_command(
    spec: &ArchSpec,
    profile: Profile,
    build_dir: &Path,
    tool: &Tool,
    cpp: bool,
    prober: &mut Prober,
) -> Result<Cmd> {
    let key = format!("cc base command\u{0}{}\u{0}{}\u{0}{cpp}", spec.clang_target, profile.opt_level());
    let mut error = None;
    let remembered =
        prober.remember(&tool.path, &key, || match resolve_base_command(spec, profile, build_dir, tool, cpp) {
            Ok((argv, env)) => serde_json::to_string(&(argv, env)).ok(),
            Err(e) => {
                error = Some(e);
                None
            }
        });
    if let Some(e) = error {
        return Err(e);
    }
    let (argv, env): BaseCommand = match remembered {
        Some(json) => serde_json::from_str(&json)?,
        // Remembered as failing in an earlier run: ask cc again for its error.
        None => resolve_base_command(spec, profile, build_dir, tool, cpp)?,
    };
    // One translation unit: minutes at most, even under emulation.
    let mut cmd = Cmd::new(&argv[0]).args(&argv[1..]).timeout(std::time::Duration::from_secs(10 * 60));
    for (key, value) in env.iter().chain(tool.env.iter()) {
        cmd = cmd.env(key, value);
    }
    Ok(cmd)
}

/// A compiler's argv and the environment cc gives it.
type BaseCommand = (Vec<String>, Vec<(String, String)>);

fn resolve_base_command(
    spec: &ArchSpec,
    profile: Profile,
    build_dir: &Path,
    tool: &Tool,
    cpp: bool,
) -> Result<BaseCommand> {
    let mut build = cc::Build::new();
    build
        .target(&spec.clang_target)
        .host(host_triple())
        .opt_level(profile.opt_level())
        .debug(false)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .cpp(cpp)
        .static_crt(true)
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compiler(&tool.path)
        .out_dir(build_dir);
    let compiler = build
        .try_get_compiler()
        .with_context(|| format!("cc cannot drive {} for {}", tool.path.display(), spec.clang_target))?;
    let argv = std::iter::once(compiler.path().as_os_str())
        .chain(compiler.args().iter().map(|a| a.as_os_str()))
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let env = compiler
        .get_envs()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
        .collect();
    Ok((argv, env))
}

/// A C++ unit: `src` (under the root) → `obj` (relative to the build folder).
pub fn cxx_step(ctx: &UnitContext, src: &Path, obj: &Path) -> Result<Step> {
    let tools = ctx.tools;
    let (src, obj) = (&ctx.source(src), &ctx.build_dir.join(obj));
    let mut cmd =
        ctx.cxx_base.clone().args(["/c", "/GS-", "/GR-", "/EHs-c-", "/Zl", "/Zc:threadSafeInit-", "/Z7", "/std:c++17"]);
    for inc in &ctx.includes {
        cmd = cmd.arg(format!("/I{}", inc.display()));
    }
    // cl.exe has no ARM64EC target of its own; cc may already have added `-arm64EC`.
    for flag in &tools.extra_cxx_flags {
        if !cmd.argv().iter().any(|a| a[1..].eq_ignore_ascii_case(&flag[1..])) {
            cmd = cmd.arg(flag);
        }
    }
    let dep = obj.with_extension("d");
    let depfile = match tools.flavor {
        Flavor::Llvm => {
            let prefix_map = format!("/clang:-ffile-prefix-map={}=.", ctx.root.display());
            cmd = cmd
                .args([
                    "-fdebug-compilation-dir=.",
                    "-gno-codeview-command-line",
                    "/clang:-ffreestanding",
                    "/clang:-MD",
                ])
                .arg(prefix_map)
                .arg(format!("/clang:-MF{}", dep.display()))
                .arg(format!("/Fo{}", obj.display()))
                // `--` keeps an absolute Unix path from being read as an option (docs/toolchains.md §4.1).
                .arg("--")
                .arg(src);
            DepFile::Make(dep)
        }
        Flavor::Msvc => {
            let dep = dep.with_extension("json");
            cmd = cmd
                .arg(format!("/d1trimfile:{}\\", ctx.root.display()))
                .arg("/sourceDependencies")
                .arg(&dep)
                .arg(format!("/Fo{}", obj.display()))
                .arg(src);
            DepFile::MsvcJson(dep)
        }
    };
    Ok(Step {
        label: format!("compile {} {}", ctx.spec.arch, src.display()),
        cmd,
        cwd: ctx.root.to_path_buf(),
        outputs: vec![obj.to_path_buf()],
        inputs: vec![src.to_path_buf()],
        tool: tools.cxx.identity(),
        depfile: Some(depfile),
        fingerprint: None,
    })
}

/// A GNU-syntax `.S` unit, assembled by clang's integrated assembler on every host (the MSVC
/// assemblers each speak another syntax).
pub fn asm_step(ctx: &UnitContext, src: &Path, obj: &Path) -> Result<Step> {
    let (src, obj) = (&ctx.source(src), &ctx.build_dir.join(obj));
    let dep = obj.with_extension("d");
    let mut cmd = ctx.asm_base.clone();
    for inc in &ctx.includes {
        cmd = cmd.arg(format!("-I{}", inc.display()));
    }
    let cmd = cmd
        .arg(format!("-ffile-prefix-map={}=.", ctx.root.display()))
        .args(["-MD", "-MF"])
        .arg(&dep)
        .arg("-c")
        .arg("-o")
        .arg(obj)
        .arg(src);
    Ok(Step {
        label: format!("assemble {} {}", ctx.spec.arch, src.display()),
        cmd,
        cwd: ctx.root.to_path_buf(),
        outputs: vec![obj.to_path_buf()],
        inputs: vec![src.to_path_buf()],
        tool: ctx.tools.asm.identity(),
        depfile: Some(DepFile::Make(dep)),
        fingerprint: None,
    })
}

impl UnitContext<'_> {
    fn source(&self, src: &Path) -> PathBuf {
        src.strip_prefix(self.root).unwrap_or(src).to_path_buf()
    }
}

fn host_triple() -> &'static str {
    if cfg!(all(windows, target_arch = "aarch64")) {
        "aarch64-pc-windows-msvc"
    } else if cfg!(windows) {
        "x86_64-pc-windows-msvc"
    } else if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    }
}
