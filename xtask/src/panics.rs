//! The panic boundary around code that parses untrusted bytes with third-party crates (`msi`,
//! `cab`): [`contain`] runs a closure and turns a panic into a [`Contained`] error, and the
//! process-wide panic hook stays silent inside a boundary, so no panic message reaches the
//! terminal; outside one it prints as before. The fuzz harness uses the same boundary and
//! counts a contained panic as a finding.

use std::{
    cell::{Cell, RefCell},
    fmt,
    panic::{self, AssertUnwindSafe},
    sync::Once,
};

thread_local! {
    /// How many boundaries this thread is inside.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// What the hook saw of the last contained panic: where and what.
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic caught at a boundary: `panicked at <crate-version/src/file.rs:line:col>: <message>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contained {
    pub message: String,
}

impl fmt::Display for Contained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a parser gave up on it ({})", self.message)
    }
}

impl std::error::Error for Contained {}

/// Runs `f`; a panic inside it comes back as [`Contained`] and prints nothing.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, Contained> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    outcome.map_err(|payload| {
        let seen = LAST.with(|l| l.borrow_mut().take());
        Contained { message: seen.unwrap_or_else(|| format!("panicked: {}", payload_text(payload.as_ref()))) }
    })
}

/// Installs the hook once: silent (recording) inside a boundary, the previous hook outside.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) > 0 {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}:{}", short_path(l.file()), l.line(), l.column()))
                    .unwrap_or_default();
                let text = format!("panicked at {at}: {}", payload_text(info.payload()));
                LAST.with(|l| *l.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(no message)".to_string(),
    }
}

/// `cab-0.6.0/src/folder.rs` rather than the whole cargo registry path.
fn short_path(file: &str) -> &str {
    let unified = file.rfind("/src/").and_then(|src| file[..src].rfind(['/', '\\']).map(|crate_start| crate_start + 1));
    unified.map_or(file, |start| &file[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_the_boundary_is_an_error_naming_where() {
        let err = contain(|| -> u8 {
            let v: Vec<u8> = Vec::new();
            v[usize::from(std::hint::black_box(3u8))]
        })
        .unwrap_err();
        assert!(err.message.starts_with("panicked at xtask/src/panics.rs:"), "{err}");
        assert!(err.message.contains("index out of bounds"), "{err}");
        assert_eq!(contain(|| 5).unwrap(), 5);
    }

    #[test]
    fn registry_paths_are_shortened_to_the_crate() {
        assert_eq!(
            short_path("/opt/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/cab-0.6.0/src/folder.rs"),
            "cab-0.6.0/src/folder.rs"
        );
        assert_eq!(short_path("C:\\cargo\\registry\\src\\x\\msi-0.11.1/src/lib.rs"), "msi-0.11.1/src/lib.rs");
        assert_eq!(short_path("lib.rs"), "lib.rs");
    }
}
