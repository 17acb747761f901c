//! The export list of one view of a forwarder: ordinals assigned, names sorted, and each entry's
//! forwarder string, in the order lld-link gives them (docs/arm64x-forwarder.md §5), so the writer's
//! output can be compared with lld-link's byte for byte.

/// One export as a spec asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    pub name: String,
    /// An explicit ordinal (`@n` in a `.def` file).
    pub ordinal: Option<u16>,
    /// Ordinal-only: an address-table entry but no name (`NONAME`).
    pub noname: bool,
    /// `DATA` only changes import libraries; the export entry is the same forwarder (§5).
    pub data: bool,
}

/// One export of a view, ready to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub ordinal: u16,
    /// `None` for an ordinal-only export.
    pub name: Option<String>,
    /// `"<target stem>.<name>"`: the loader appends `.dll` to the stem.
    pub forward: String,
}

/// Every export of one view, sorted by name (byte order, `"B" < "a"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub entries: Vec<Entry>,
}

impl Table {
    /// lld-link's rules (§5): sort by name; exports without an explicit ordinal are numbered in
    /// that order, after the highest explicit ordinal. Names are validated by the spec loader;
    /// duplicates here would be a bug.
    pub fn assign(requested: &[Requested], target_stem: &str) -> Table {
        let mut sorted: Vec<&Requested> = requested.iter().collect();
        sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        let mut next = sorted.iter().filter_map(|r| r.ordinal).max().unwrap_or(0);
        let entries = sorted
            .into_iter()
            .map(|r| Entry {
                ordinal: r.ordinal.unwrap_or_else(|| {
                    next += 1;
                    next
                }),
                name: (!r.noname).then(|| r.name.clone()),
                forward: format!("{target_stem}.{}", r.name),
            })
            .collect();
        Table { entries }
    }

    /// The lowest ordinal (the directory's `Base`); 1 for an empty table.
    pub fn base(&self) -> u16 {
        self.entries.iter().map(|e| e.ordinal).min().unwrap_or(1)
    }

    /// `NumberOfFunctions`: the ordinal range, gaps included.
    pub fn function_count(&self) -> u32 {
        match self.entries.iter().map(|e| e.ordinal).max() {
            Some(max) => u32::from(max - self.base()) + 1,
            None => 0,
        }
    }

    pub fn named(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().filter_map(|e| e.name.as_deref().map(|n| (n, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, ordinal: Option<u16>, noname: bool) -> Requested {
        Requested { name: name.into(), ordinal, noname, data: false }
    }

    #[test]
    fn unnumbered_exports_follow_the_highest_explicit_ordinal_in_name_order() {
        let table = Table::assign(&[req("b", None, false), req("Z", Some(5), false), req("a", None, true)], "t_arm64");
        let got: Vec<(u16, Option<&str>, &str)> =
            table.entries.iter().map(|e| (e.ordinal, e.name.as_deref(), e.forward.as_str())).collect();
        assert_eq!(got, [(5, Some("Z"), "t_arm64.Z"), (6, None, "t_arm64.a"), (7, Some("b"), "t_arm64.b")]);
        assert_eq!((table.base(), table.function_count()), (5, 3));
        assert_eq!(table.named().count(), 2);
    }

    #[test]
    fn without_explicit_ordinals_numbering_starts_at_one() {
        let table = Table::assign(&[req("y", None, false), req("x", None, false)], "t");
        assert_eq!(table.entries.iter().map(|e| e.ordinal).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(table.entries[0].name.as_deref(), Some("x"));
    }
}
