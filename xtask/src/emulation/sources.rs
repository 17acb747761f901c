//! Which Debian mirror the emulated root uses: the one this machine's apt already uses, read
//! at run time from `/etc/apt/sources.list.d/*.sources` (deb822) and `/etc/apt/sources.list`
//! (one-line form), and the root's own `sources.list` written from it.

use std::path::Path;

/// The suite the root is made of.
pub const SUITE: &str = "bookworm";
/// Debian's default mirror, used only when this machine's apt names none.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
pub const DEFAULT_SECURITY: &str = "http://deb.debian.org/debian-security";

/// One `deb` source: a URI and the suites it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub uri: String,
    pub suites: Vec<String>,
}

/// Where the root's packages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirrors {
    /// For `bookworm` (and `bookworm-updates` when the host has it).
    pub main: String,
    /// For `bookworm-security`, when the host has it.
    pub security: Option<String>,
    /// Whether the host lists `bookworm-updates`.
    pub updates: bool,
    /// Where the choice came from, for the log ("/etc/apt/sources.list.d/debian.sources", or
    /// a note that Debian's default was used).
    pub origin: String,
}

/// Binary (`deb`) sources of a deb822 `.sources` file; disabled stanzas are skipped.
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let mut found = Vec::new();
    for stanza in text.split("\n\n").map(str::trim).filter(|s| !s.is_empty()) {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                // A continuation line: part of the previous field's value.
                if let Some((_, value)) = fields.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            } else if let Some((key, value)) = line.split_once(':') {
                fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if field("enabled").is_some_and(|v| v.eq_ignore_ascii_case("no")) {
            continue;
        }
        if !field("types").unwrap_or_default().split_whitespace().any(|t| t == "deb") {
            continue;
        }
        let suites: Vec<String> = field("suites").unwrap_or_default().split_whitespace().map(str::to_string).collect();
        for uri in field("uris").unwrap_or_default().split_whitespace() {
            found.push(Source { uri: uri.trim_end_matches('/').to_string(), suites: suites.clone() });
        }
    }
    found
}

/// Binary (`deb`) sources of a one-line `sources.list`: `deb [options] URI SUITE COMPONENT…`.
pub fn parse_one_line(text: &str) -> Vec<Source> {
    let mut found = Vec::new();
    for line in text.lines().map(|l| l.split('#').next().unwrap_or_default().trim()) {
        let Some(rest) = line.strip_prefix("deb ").or_else(|| line.strip_prefix("deb\t")) else { continue };
        let mut rest = rest.trim_start();
        if rest.starts_with('[') {
            match rest.find(']') {
                Some(end) => rest = rest[end + 1..].trim_start(),
                None => continue,
            }
        }
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            found.push(Source { uri: uri.trim_end_matches('/').to_string(), suites: vec![suite.to_string()] });
        }
    }
    found
}

/// Reads every source this machine's apt uses, with the file each came from.
pub fn host_sources(etc_apt: &Path) -> Vec<(String, Source)> {
    let mut found = Vec::new();
    let list = etc_apt.join("sources.list");
    if let Ok(text) = std::fs::read_to_string(&list) {
        found.extend(parse_one_line(&text).into_iter().map(|s| (list.display().to_string(), s)));
    }
    let mut parts: Vec<_> =
        std::fs::read_dir(etc_apt.join("sources.list.d")).into_iter().flatten().flatten().map(|e| e.path()).collect();
    parts.sort();
    for path in parts {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let sources = match path.extension().and_then(|e| e.to_str()) {
            Some("sources") => parse_deb822(&text),
            Some("list") => parse_one_line(&text),
            _ => continue,
        };
        found.extend(sources.into_iter().map(|s| (path.display().to_string(), s)));
    }
    found
}

/// The mirrors for the root, chosen from the host's sources: the first that serves `bookworm`
/// (any Debian mirror carries arm64), and the first that serves `bookworm-security`.
pub fn choose(sources: &[(String, Source)]) -> Mirrors {
    let serving =
        |suite: &str| sources.iter().find(|(_, s)| s.uri.starts_with("http") && s.suites.iter().any(|x| x == suite));
    let security = serving(&format!("{SUITE}-security")).map(|(_, s)| s.uri.clone());
    match serving(SUITE) {
        Some((file, source)) => Mirrors {
            main: source.uri.clone(),
            updates: source.suites.iter().any(|x| *x == format!("{SUITE}-updates"))
                || serving(&format!("{SUITE}-updates")).is_some(),
            security,
            origin: file.clone(),
        },
        None => Mirrors {
            main: DEFAULT_MIRROR.to_string(),
            updates: true,
            security: Some(security.unwrap_or_else(|| DEFAULT_SECURITY.to_string())),
            origin: format!("Debian's default mirror (this machine's apt lists no http(s) source for {SUITE})"),
        },
    }
}

/// The root's `/etc/apt/sources.list`: the suites the host has, from the same mirrors.
pub fn root_sources_list(m: &Mirrors) -> String {
    let mut text = format!(
        "# Written by `cargo xtask arm64-root install` from this machine's apt sources.\ndeb {} {SUITE} main\n",
        m.main
    );
    if m.updates {
        text.push_str(&format!("deb {} {SUITE}-updates main\n", m.main));
    }
    if let Some(security) = &m.security {
        text.push_str(&format!("deb {security} {SUITE}-security main\n"));
    }
    text
}

/// The host's apt settings the root needs too, as an `apt.conf.d` file: a snapshot mirror's
/// expired Release files (`Check-Valid-Until`, `Check-Date`) and a proxy. `dump` is the output
/// of `apt-config dump`.
pub fn root_apt_conf(dump: &str) -> String {
    let keep = ["Acquire::Check-Valid-Until", "Acquire::Check-Date", "Acquire::http::Proxy", "Acquire::https::Proxy"];
    let mut text = String::new();
    for line in dump.lines() {
        if let Some((key, _)) = line.split_once(' ')
            && keep.contains(&key)
        {
            text.push_str(line.trim());
            text.push('\n');
        }
    }
    text
}

/// The host's apt proxy for plain http (for debootstrap, which reads `http_proxy`).
pub fn http_proxy(dump: &str) -> Option<String> {
    dump.lines()
        .find_map(|l| l.strip_prefix("Acquire::http::Proxy "))
        .map(|v| v.trim().trim_end_matches(';').trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "Types: deb\n# http://snapshot.example/archive/debian/20250520T000000Z\nURIs: http://mirror.example/debian\n\
        Suites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
        Types: deb\nURIs: http://mirror.example/debian-security/\nSuites: bookworm-security\nComponents: main\n\n\
        Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n\n\
        Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\n";

    #[test]
    fn deb822_sources_give_their_binary_uris_and_suites() {
        let found = parse_deb822(DEB822);
        assert_eq!(
            found,
            vec![
                Source {
                    uri: "http://mirror.example/debian".into(),
                    suites: vec!["bookworm".into(), "bookworm-updates".into()]
                },
                Source {
                    uri: "http://mirror.example/debian-security".into(),
                    suites: vec!["bookworm-security".into()]
                },
            ]
        );
    }

    #[test]
    fn one_line_sources_skip_comments_options_and_deb_src() {
        let text = "# deb http://old.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\n\
            deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib\n\
            deb http://mirror.example/debian bookworm-updates main # trailing\n";
        let found = parse_one_line(text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0], Source { uri: "http://mirror.example/debian".into(), suites: vec!["bookworm".into()] });
        assert_eq!(found[1].suites, vec!["bookworm-updates".to_string()]);
    }

    #[test]
    fn the_root_uses_the_hosts_mirrors_for_the_suites_the_host_has() {
        let sources: Vec<(String, Source)> =
            parse_deb822(DEB822).into_iter().map(|s| ("debian.sources".to_string(), s)).collect();
        let m = choose(&sources);
        assert_eq!(m.main, "http://mirror.example/debian");
        assert_eq!(m.security.as_deref(), Some("http://mirror.example/debian-security"));
        assert!(m.updates);
        assert_eq!(m.origin, "debian.sources");
        assert_eq!(
            root_sources_list(&m).lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(),
            [
                "deb http://mirror.example/debian bookworm main",
                "deb http://mirror.example/debian bookworm-updates main",
                "deb http://mirror.example/debian-security bookworm-security main"
            ]
        );
    }

    #[test]
    fn without_a_host_source_debians_default_is_used_and_said() {
        let other = vec![(
            "x.list".to_string(),
            Source { uri: "http://ppa.example/ubuntu".into(), suites: vec!["jammy".into()] },
        )];
        let m = choose(&other);
        assert_eq!(m.main, DEFAULT_MIRROR);
        assert!(m.origin.contains("default"), "{}", m.origin);
        assert!(root_sources_list(&m).contains("bookworm-security"));
    }

    #[test]
    fn a_host_without_updates_or_security_gets_none_in_the_root() {
        let only = vec![(
            "s.list".to_string(),
            Source { uri: "http://mirror.example/debian".into(), suites: vec!["bookworm".into()] },
        )];
        let m = choose(&only);
        assert_eq!((m.updates, m.security.clone()), (false, None));
        assert_eq!(root_sources_list(&m).lines().filter(|l| l.starts_with("deb ")).count(), 1);
    }

    #[test]
    fn the_hosts_validity_and_proxy_settings_are_carried_into_the_root() {
        let dump = "Acquire \"\";\nAcquire::Check-Valid-Until \"false\";\nAcquire::Check-Date \"false\";\nAcquire::cdrom \"\";\n\
            Acquire::http::Proxy \"http://proxy.example:3128\";\n";
        assert_eq!(
            root_apt_conf(dump),
            "Acquire::Check-Valid-Until \"false\";\nAcquire::Check-Date \"false\";\nAcquire::http::Proxy \"http://proxy.example:3128\";\n"
        );
        assert_eq!(http_proxy(dump).as_deref(), Some("http://proxy.example:3128"));
        assert_eq!(http_proxy("Acquire \"\";\n"), None);
    }
}
