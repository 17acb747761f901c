//! A lint or simulation result: a stable rule id, a severity, the install path it concerns and
//! a sentence saying what is wrong and why it matters.

use std::fmt;

mod rules;

pub use rules::Rule;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Prints as its stable id, e.g. `component-guid-changed`; tests and scripts match on it.
    pub rule: Rule,
    /// The install path (`Program Files\Archway\archway.dll`), when the finding is about one.
    pub path: Option<String>,
    pub message: String,
}

impl Finding {
    pub fn error(rule: Rule, path: Option<&str>, message: impl Into<String>) -> Finding {
        Finding { severity: Severity::Error, rule, path: path.map(str::to_string), message: message.into() }
    }

    pub fn warning(rule: Rule, path: Option<&str>, message: impl Into<String>) -> Finding {
        Finding { severity: Severity::Warning, rule, path: path.map(str::to_string), message: message.into() }
    }

    /// An error when `error` holds, a warning otherwise (rules whose weight depends on the
    /// RemoveExistingProducts schedule, docs/msi.md §2.7).
    pub fn error_if(error: bool, rule: Rule, path: Option<&str>, message: impl Into<String>) -> Finding {
        let f = Finding::error(rule, path, message);
        if error { f } else { Finding { severity: Severity::Warning, ..f } }
    }
}

/// `error[machine-folder] Program Files (x86)\Archway\archway.dll: …`
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}[{}] ", self.rule)?;
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.message)
    }
}
