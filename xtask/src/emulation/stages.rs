//! The provisioning recipe's stages, their markers, and the repair decision: from the markers
//! present and what the root's files show, whether the root is complete, where to resume, or
//! that it must be wiped and made again. Pure logic; `provision.rs` carries it out.

use std::path::{Path, PathBuf};

/// The recipe's steps, in order. Each but the last leaves a marker when it finished; the last
/// (the check) writes the stamp that makes the root usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// `debootstrap --foreign`: the arm64 packages unpacked (host side).
    Bootstrap1,
    /// `/debootstrap/debootstrap --second-stage` inside the root, under qemu.
    Bootstrap2,
    /// The root's apt sources, then `apt-get install wine wine64`, then `apt-get clean`.
    Wine,
    /// `wine wineboot --init` in the root's prefix.
    Prefix,
    /// A program run in the prefix; then the stamp.
    Check,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Bootstrap1, Stage::Bootstrap2, Stage::Wine, Stage::Prefix, Stage::Check];

    pub fn number(self) -> usize {
        Stage::ALL.iter().position(|s| *s == self).expect("listed") + 1
    }

    /// The marker's file name (the check has none: its mark is the stamp).
    pub fn marker(self) -> Option<&'static str> {
        match self {
            Stage::Bootstrap1 => Some("1-debootstrap-first-stage.done"),
            Stage::Bootstrap2 => Some("2-debootstrap-second-stage.done"),
            Stage::Wine => Some("3-wine-installed.done"),
            Stage::Prefix => Some("4-wine-prefix.done"),
            Stage::Check => None,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Stage::Bootstrap1 => "debootstrap stage 1 (arm64 packages, host side)",
            Stage::Bootstrap2 => "debootstrap stage 2 (inside the root, under qemu)",
            Stage::Wine => "apt sources and Wine 8 (apt-get install wine wine64)",
            Stage::Prefix => "Wine prefix (wine wineboot --init)",
            Stage::Check => "check: a Windows program runs in the prefix",
        }
    }

    /// Whether an interrupted run of this stage can be run again over what it left. The two
    /// debootstrap stages cannot: what they leave is wiped and the root made from nothing.
    pub fn resumable(self) -> bool {
        !matches!(self, Stage::Bootstrap1 | Stage::Bootstrap2)
    }
}

/// What the root's files show, each the result a stage must leave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The root folder exists and is not empty.
    pub root_has_files: bool,
    /// `/debootstrap/debootstrap` is there (stage 1 done, stage 2 not).
    pub second_stage_pending: bool,
    /// `apt-get` and dpkg's status file are there.
    pub base_system: bool,
    /// `/usr/bin/wine` and `/usr/bin/wineserver` are there.
    pub wine: bool,
    /// The prefix's `system.reg` is there.
    pub prefix: bool,
}

impl Observed {
    pub fn of(root: &Path, prefix: &Path) -> Observed {
        Observed {
            root_has_files: std::fs::read_dir(root).is_ok_and(|mut d| d.next().is_some()),
            second_stage_pending: root.join("debootstrap/debootstrap").is_file(),
            base_system: root.join("usr/bin/apt-get").is_file() && root.join("var/lib/dpkg/status").is_file(),
            wine: root.join("usr/bin/wine").exists() && root.join("usr/bin/wineserver").exists(),
            prefix: prefix.join("system.reg").is_file(),
        }
    }

    /// Whether `stage`'s result is present and usable.
    pub fn shows(self, stage: Stage) -> bool {
        match stage {
            Stage::Bootstrap1 => self.second_stage_pending || self.base_system,
            Stage::Bootstrap2 => self.base_system && !self.second_stage_pending,
            Stage::Wine => self.wine,
            Stage::Prefix => self.prefix,
            Stage::Check => false,
        }
    }
}

/// What `install` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The stamp is there: nothing to do.
    Complete,
    /// Wipe the folder and run every stage; the reason, for the log (None: nothing was there).
    Fresh(Option<String>),
    /// Run from this stage on, over what the earlier stages left; the reason, for the log.
    Resume(Stage, String),
}

/// The decision: `done` are the stages whose markers exist, `stamped` whether the stamp does.
pub fn plan(stamped: bool, done: &[Stage], seen: Observed, force: bool) -> Plan {
    if force {
        return Plan::Fresh(seen.root_has_files.then(|| "--force".to_string()));
    }
    if stamped && Stage::ALL.iter().filter(|s| s.marker().is_some()).all(|s| done.contains(s) && seen.shows(*s)) {
        return Plan::Complete;
    }
    // The first stage that has not finished, or whose result is missing (a stage after a gap
    // in the markers is redone too).
    let next = Stage::ALL.iter().copied().find(|s| !done.contains(s) || !seen.shows(*s)).unwrap_or(Stage::Check);
    if next == Stage::Bootstrap1 && !seen.root_has_files && done.is_empty() {
        return Plan::Fresh(None);
    }
    if !next.resumable() {
        let why = if done.contains(&next) {
            format!("stage {} ({}) is marked done but its result is missing", next.number(), next.title())
        } else {
            format!("stage {} ({}) did not finish and cannot be resumed", next.number(), next.title())
        };
        return Plan::Fresh(Some(why));
    }
    let why = if done.contains(&next) {
        format!("stage {}'s result is missing", next.number())
    } else {
        format!("stages 1–{} are done", next.number() - 1)
    };
    Plan::Resume(next, why)
}

/// Where the markers live, and reading them.
pub struct Markers {
    pub dir: PathBuf,
}

impl Markers {
    pub fn done(&self) -> Vec<Stage> {
        Stage::ALL.into_iter().filter(|s| s.marker().is_some_and(|m| self.dir.join(m).is_file())).collect()
    }

    pub fn mark(&self, stage: Stage) -> anyhow::Result<()> {
        if let Some(name) = stage.marker() {
            crate::fsx::write_atomic(&self.dir.join(name), b"done\n")?;
        }
        Ok(())
    }

    /// Removes the markers of `from` and every later stage (their results are redone).
    pub fn clear_from(&self, from: Stage) -> anyhow::Result<()> {
        for stage in Stage::ALL.into_iter().filter(|s| *s >= from) {
            if let Some(name) = stage.marker() {
                match std::fs::remove_file(self.dir.join(name)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen_after(stage: Option<Stage>) -> Observed {
        let reached = |s: Stage| stage.is_some_and(|r| r >= s);
        Observed {
            root_has_files: stage.is_some(),
            second_stage_pending: stage == Some(Stage::Bootstrap1),
            base_system: reached(Stage::Bootstrap2),
            wine: reached(Stage::Wine),
            prefix: reached(Stage::Prefix),
        }
    }

    fn upto(stage: Stage) -> Vec<Stage> {
        Stage::ALL.into_iter().filter(|s| *s <= stage && s.marker().is_some()).collect()
    }

    #[test]
    fn nothing_there_is_a_fresh_start_and_a_stamped_root_is_complete() {
        assert_eq!(plan(false, &[], Observed::default(), false), Plan::Fresh(None));
        assert_eq!(plan(true, &upto(Stage::Prefix), seen_after(Some(Stage::Prefix)), false), Plan::Complete);
    }

    #[test]
    fn force_wipes_even_a_complete_root() {
        assert_eq!(
            plan(true, &upto(Stage::Prefix), seen_after(Some(Stage::Prefix)), true),
            Plan::Fresh(Some("--force".into()))
        );
    }

    #[test]
    fn an_interrupted_debootstrap_is_wiped_and_redone() {
        // Stage 1 ran halfway: files, no marker.
        let half = Observed { root_has_files: true, ..Observed::default() };
        assert!(matches!(plan(false, &[], half, false), Plan::Fresh(Some(why)) if why.contains("stage 1")));
        // Stage 2 ran halfway: stage 1's marker, /debootstrap still there.
        assert!(
            matches!(plan(false, &upto(Stage::Bootstrap1), seen_after(Some(Stage::Bootstrap1)), false), Plan::Fresh(Some(why)) if why.contains("stage 2"))
        );
    }

    #[test]
    fn later_stages_resume_over_what_the_earlier_ones_left() {
        assert!(matches!(
            plan(false, &upto(Stage::Bootstrap2), seen_after(Some(Stage::Bootstrap2)), false),
            Plan::Resume(Stage::Wine, _)
        ));
        assert!(matches!(
            plan(false, &upto(Stage::Wine), seen_after(Some(Stage::Wine)), false),
            Plan::Resume(Stage::Prefix, _)
        ));
        // Every marker but no stamp: the check did not pass; run it again.
        assert!(matches!(
            plan(false, &upto(Stage::Prefix), seen_after(Some(Stage::Prefix)), false),
            Plan::Resume(Stage::Check, _)
        ));
    }

    #[test]
    fn a_marked_stage_whose_result_is_gone_is_redone() {
        // Wine's marker is there but /usr/bin/wine is not: install it again.
        let mut seen = seen_after(Some(Stage::Prefix));
        seen.wine = false;
        assert!(
            matches!(plan(true, &upto(Stage::Prefix), seen, false), Plan::Resume(Stage::Wine, why) if why.contains("missing"))
        );
        // The base system is gone: from nothing.
        let mut seen = seen_after(Some(Stage::Prefix));
        seen.base_system = false;
        assert!(
            matches!(plan(true, &upto(Stage::Prefix), seen, false), Plan::Fresh(Some(why)) if why.contains("result is missing"))
        );
    }

    #[test]
    fn a_gap_in_the_markers_resumes_at_the_gap() {
        let done = [Stage::Bootstrap1, Stage::Bootstrap2, Stage::Prefix];
        assert!(matches!(plan(false, &done, seen_after(Some(Stage::Prefix)), false), Plan::Resume(Stage::Wine, _)));
    }

    #[test]
    fn markers_are_written_and_cleared_from_a_stage_on() {
        let dir = tempfile::tempdir().unwrap();
        let markers = Markers { dir: dir.path().to_path_buf() };
        for s in [Stage::Bootstrap1, Stage::Bootstrap2, Stage::Wine, Stage::Check] {
            markers.mark(s).unwrap();
        }
        assert_eq!(markers.done(), vec![Stage::Bootstrap1, Stage::Bootstrap2, Stage::Wine]);
        markers.clear_from(Stage::Bootstrap2).unwrap();
        assert_eq!(markers.done(), vec![Stage::Bootstrap1]);
        assert_eq!(Stage::Check.number(), Stage::ALL.len());
    }
}
