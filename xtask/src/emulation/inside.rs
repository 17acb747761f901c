//! Commands that run inside the arm64 root: `chroot ROOT /usr/bin/env -i [-C DIR] VAR=… PROGRAM
//! ARGS…` as an argument vector (no shell), with a clean environment so nothing of this
//! machine's (PATH, LD_LIBRARY_PATH, a WINEPREFIX) leaks into the arm64 programs.

use std::path::Path;

use crate::cmd::Cmd;

/// The environment every program in the root starts with.
pub const BASE_ENV: [(&str, &str); 4] = [
    ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    ("HOME", "/root"),
    ("LANG", "C.UTF-8"),
    ("TERM", "dumb"),
];

/// The prefix inside the root (a path in the root's own file system).
pub const PREFIX: &str = "/var/lib/archway-wine";

/// The environment Wine programs in the root get on top of [`BASE_ENV`]. `WINEDEBUG=-all`
/// keeps their output clean; no Mono or Gecko install dialogs (nothing here is .NET or HTML).
pub const WINE_ENV: [(&str, &str); 3] =
    [("WINEPREFIX", PREFIX), ("WINEDEBUG", "-all"), ("WINEDLLOVERRIDES", "mscoree,mshtml=")];

/// The argument vector after `chroot`: ROOT, `env -i`, an optional folder (inside the root),
/// the variables (later ones win), then the program and its arguments.
pub fn argv(root: &Path, cwd: Option<&str>, env: &[(String, String)], program: &str, args: &[String]) -> Vec<String> {
    let mut argv = vec![root.display().to_string(), "/usr/bin/env".to_string(), "-i".to_string()];
    if let Some(dir) = cwd {
        argv.push("-C".to_string());
        argv.push(dir.to_string());
    }
    for (key, value) in BASE_ENV.iter().map(|(k, v)| (*k, *v)).chain(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    {
        // `env` would take a name with `=` for something else; Windows has no such names.
        if !key.is_empty() && !key.contains('=') {
            argv.push(format!("{key}={value}"));
        }
    }
    argv.push(program.to_string());
    argv.extend(args.iter().cloned());
    argv
}

/// A command running `program` (a path inside the root) there.
pub fn command(root: &Path, cwd: Option<&str>, env: &[(String, String)], program: &str, args: &[String]) -> Cmd {
    Cmd::new("chroot").args(argv(root, cwd, env, program, args))
}

/// The Wine environment, then `extra`.
pub fn wine_env(extra: &[(String, String)]) -> Vec<(String, String)> {
    WINE_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).chain(extra.iter().cloned()).collect()
}

/// Strings from string literals, for argument lists.
pub fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_in_the_root_gets_a_clean_environment_and_no_shell() {
        let env = wine_env(&[("WINEDEBUG".into(), "+loaddll".into()), ("ARCHWAY_X".into(), "a b".into())]);
        let argv = argv(
            Path::new("/c/root"),
            Some("/var/lib/archway-wine/drive_c"),
            &env,
            "/usr/bin/wine",
            &strings(&[r"C:\x y\p.exe", "-h"]),
        );
        assert_eq!(&argv[..5], ["/c/root", "/usr/bin/env", "-i", "-C", "/var/lib/archway-wine/drive_c"]);
        assert!(argv.contains(&"WINEPREFIX=/var/lib/archway-wine".to_string()));
        assert!(argv.contains(&"ARCHWAY_X=a b".to_string()), "values are single arguments");
        // The caller's WINEDEBUG comes after the default, so env(1) keeps the caller's.
        let debug: Vec<usize> =
            argv.iter().enumerate().filter(|(_, a)| a.starts_with("WINEDEBUG=")).map(|(i, _)| i).collect();
        assert_eq!(debug.len(), 2);
        assert_eq!(argv[debug[1]], "WINEDEBUG=+loaddll");
        assert_eq!(&argv[argv.len() - 3..], ["/usr/bin/wine", r"C:\x y\p.exe", "-h"]);
    }

    #[test]
    fn names_env_would_misread_are_dropped() {
        let argv =
            argv(Path::new("/r"), None, &[("A=B".into(), "c".into()), (String::new(), "d".into())], "/bin/true", &[]);
        assert!(!argv.iter().any(|a| a.starts_with("A=B") || a == "=d"), "{argv:?}");
        assert_eq!(argv[3], "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    }
}
