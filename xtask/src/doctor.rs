//! `cargo xtask doctor`: which toolchains were found, their versions, and what each can build.

use anyhow::{Result, bail};

use crate::{
    build::Selection,
    matrix::{Arch, Matrix},
    project::Project,
    toolchain::{self, Provisioning, llvm::LlvmTool, provision},
};

/// Show which toolchains were found, their versions, and what each can build.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = "Example:\n  cargo xtask doctor\n  cargo xtask doctor --toolchain llvm")]
pub struct Args {
    #[command(flatten)]
    pub selection: Selection,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let matrix = Matrix::load(&project.matrix_path())?;
    let archs = matrix.select(&args.selection.archs)?;
    let tc = toolchain::discover(project, args.selection.toolchain, &archs, Provisioning::Never)?;

    println!("LLVM tools:");
    if tc.llvm_inventory.is_empty() {
        println!("  none found on PATH, in /usr/lib/llvm-*/bin, ARCHWAY_LLVM_DIR or the provisioned folder");
    }
    for tool in LlvmTool::ALL {
        for f in tc.llvm_inventory.iter().filter(|f| f.tool == tool) {
            let ours: Vec<&str> =
                f.targets.iter().map(String::as_str).filter(|t| matches!(*t, "x86" | "x86-64" | "aarch64")).collect();
            let backends =
                if f.targets.is_empty() { String::new() } else { format!("  code generators: {}", ours.join(" ")) };
            println!(
                "  {:<13} {:<8} {:<12} {}{backends}",
                tool.base_name(),
                f.version.to_string(),
                f.origin.to_string(),
                f.path.display()
            );
        }
    }
    match provision::installed_bin() {
        Some(bin) => println!("provisioned LLVM {}: {}", provision::PIN, bin.display()),
        None => println!("provisioned LLVM {}: not installed (`cargo xtask toolchain install`)", provision::PIN),
    }
    match &tc.msvc {
        Some(desc) => println!("MSVC: {desc}"),
        None if cfg!(windows) => println!("MSVC: not found (Visual Studio 2022/2026 with the C++ tools)"),
        None => println!("MSVC: not looked for (Windows only)"),
    }
    println!("\narchitectures:");
    let mut missing = Vec::new();
    for arch in &archs {
        match tc.tools(*arch) {
            Ok(t) => {
                let show =
                    |tool: &toolchain::Tool| format!("{} {} ({})", file_name(&tool.path), tool.version, tool.origin);
                println!(
                    "  {:<8} yes  compile {}, assemble {}, link {}",
                    arch.name(),
                    show(&t.cxx),
                    show(&t.asm),
                    show(&t.link)
                );
            }
            Err(why) => {
                println!("  {:<8} no   {why}", arch.name());
                missing.push(*arch);
            }
        }
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|a: &Arch| a.name()).collect();
        bail!("cannot build {}", names.join(", "));
    }
    Ok(())
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}
