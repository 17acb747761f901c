//! Reading an msiexec verbose log (`/l*v`): its text whatever the encoding (Wine 8 writes ASCII,
//! Windows Installer may write UTF-16LE), the lines that explain a failure, and the facts the
//! engine's checks quote (which actions started, which properties ended up set).

/// The log's text: UTF-16LE when it starts with a byte-order mark or looks like it (every second
/// byte zero), else UTF-8 with invalid bytes replaced.
pub fn decode(bytes: &[u8]) -> String {
    let utf16 =
        bytes.starts_with(&[0xFF, 0xFE]) || (bytes.len() >= 4 && bytes[1] == 0 && bytes[3] == 0 && bytes[0] != 0);
    if utf16 {
        let body = bytes.strip_prefix(&[0xFF, 0xFE][..]).unwrap_or(bytes);
        let units: Vec<u16> = body.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Whether a line says something went wrong: a failed action (`Return value 3`), an error or a
/// refusal (a launch condition's message is logged as a type-1 message in Wine's log).
fn alarming(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("return value 3")
        || lower.contains("error")
        || lower.contains("failed")
        || lower.contains("fatal")
        || lower.contains("is already installed")
        || lower.contains("does not downgrade")
        || lower.contains("note:")
}

/// The lines that explain a failure, each with up to two lines before and after (the actions
/// around it), at most `max` lines; when nothing alarming is logged, the last actions.
pub fn excerpt(text: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut keep = vec![false; lines.len()];
    for (i, line) in lines.iter().enumerate() {
        if alarming(line) {
            keep[i.saturating_sub(2)..(i + 3).min(lines.len())].iter_mut().for_each(|k| *k = true);
        }
    }
    if !keep.contains(&true) {
        // The last actions before the property dump that ends every log.
        let end = lines.iter().position(|l| l.starts_with("Property(S):")).unwrap_or(lines.len());
        let from = end.saturating_sub(max.min(15));
        keep[from..end].iter_mut().for_each(|k| *k = true);
    }
    let mut out = Vec::new();
    let mut last = None;
    for (i, line) in lines.iter().enumerate().filter(|(i, _)| keep[*i]) {
        if last.is_some_and(|l: usize| l + 1 != i) {
            out.push("  …".to_string());
        }
        out.push(format!("  {:>4}: {}", i + 1, line.trim_end()));
        last = Some(i);
        if out.len() >= max {
            out.push("  … (more in the log)".to_string());
            break;
        }
    }
    out
}

/// The standard and custom actions the engine started, in order (`Action start …: Name.`).
pub fn started_actions(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once("Action start ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(": ").map(|(_, name)| name.trim().trim_end_matches('.').to_string()))
        .collect()
}

/// The lines showing `action` start and end, e.g. RemoveExistingProducts, with line numbers.
pub fn action_lines(text: &str, action: &str) -> Vec<String> {
    let start = format!(": {action}.");
    text.lines()
        .enumerate()
        .filter(|(_, l)| (l.contains("Action start ") || l.contains("Action ended ")) && l.contains(&start))
        .map(|(i, l)| format!("  {:>4}: {}", i + 1, l.trim_end()))
        .collect()
}

/// The value of a property in the log's final property dump (`Property(S): NAME = value`).
pub fn property<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("Property(S): {name} = ");
    text.lines().rev().find_map(|l| l.strip_prefix(prefix.as_str())).map(str::trim_end)
}

/// Lines of the log that mention `needle` (case-insensitive), with line numbers, at most `max`.
pub fn lines_mentioning(text: &str, needle: &str, max: usize) -> Vec<String> {
    let needle = needle.to_ascii_lowercase();
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.to_ascii_lowercase().contains(&needle))
        .take(max)
        .map(|(i, l)| format!("  {:>4}: {}", i + 1, l.trim_end()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINE_LOG: &str = "Action start 10:05:20: AppSearch.\nProperty: ARCHWAY_APPCMD, Signature: ArchwayAppcmd\n\
        Action ended 10:05:20: AppSearch. Return value 1.\nAction start 10:05:20: LaunchConditions.\n\
        A newer version of Archway is already installed. Uninstall it first; archway does not downgrade.\n\
        Action ended 10:05:20: LaunchConditions. Return value 3.\nProperty(S): ProductVersion = 0.1.0.0\n";

    #[test]
    fn utf16_and_ascii_logs_read_the_same() {
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in WINE_LOG.encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&utf16), WINE_LOG);
        assert_eq!(decode(WINE_LOG.as_bytes()), WINE_LOG);
        assert_eq!(decode(&[0xC3, 0x28]), "\u{FFFD}(");
    }

    #[test]
    fn the_excerpt_shows_the_failed_action_and_its_neighbours() {
        let lines = excerpt(WINE_LOG, 20);
        assert!(lines.iter().any(|l| l.contains("LaunchConditions. Return value 3")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("does not downgrade")), "{lines:#?}");
        assert!(!lines.iter().any(|l| l.contains("Action start 10:05:20: AppSearch")), "{lines:#?}");
    }

    #[test]
    fn actions_and_properties_are_read_back() {
        assert_eq!(started_actions(WINE_LOG), ["AppSearch", "LaunchConditions"]);
        assert_eq!(property(WINE_LOG, "ProductVersion"), Some("0.1.0.0"));
        assert_eq!(property(WINE_LOG, "ARCHWAY_APPCMD"), None);
        assert_eq!(action_lines(WINE_LOG, "LaunchConditions").len(), 2);
    }
}
