//! Table contents as plain rows, the shape both sides share: the writer plans a [`Database`]
//! and serializes it, the reader fills one from an MSI, and the lint and the simulator read only
//! this (so a test can seed a fault into a table exactly as a broken writer would).

use std::collections::BTreeMap;

use msi::Value;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Every table by name (`_Validation` and the other system tables excluded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Database {
    pub tables: BTreeMap<String, Table>,
}

/// One row, read by column name.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    table: &'a Table,
    values: &'a [Value],
}

impl<'a> Row<'a> {
    pub fn value(&self, column: &str) -> &'a Value {
        static NULL: Value = Value::Null;
        self.table.column(column).and_then(|i| self.values.get(i)).unwrap_or(&NULL)
    }

    /// A string cell; NULL and empty both read as `None`.
    pub fn str(&self, column: &str) -> Option<&'a str> {
        self.value(column).as_str().filter(|s| !s.is_empty())
    }

    pub fn string(&self, column: &str) -> String {
        self.str(column).unwrap_or_default().to_string()
    }

    pub fn int(&self, column: &str) -> Option<i32> {
        self.value(column).as_int()
    }
}

impl Database {
    pub fn has(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// The rows of `table` (none when the table is missing).
    pub fn rows<'a>(&'a self, table: &str) -> impl Iterator<Item = Row<'a>> + 'a {
        let t = self.tables.get(table);
        t.into_iter().flat_map(|t| t.rows.iter().map(move |values| Row { table: t, values }))
    }

    /// The first row of `table` whose `column` equals `value`.
    pub fn find<'a>(&'a self, table: &str, column: &str, value: &str) -> Option<Row<'a>> {
        self.rows(table).find(|r| r.str(column) == Some(value))
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.find("Property", "Property", name).and_then(|r| r.str("Value"))
    }

    #[cfg(test)]
    /// Sets `column` to `value` in every row of `table` whose `key_column` equals `key`; returns
    /// how many rows changed. For tests that seed faults.
    pub fn set(&mut self, table: &str, key_column: &str, key: &str, column: &str, value: Value) -> usize {
        let Some(t) = self.tables.get_mut(table) else { return 0 };
        let (Some(k), Some(c)) = (t.column(key_column), t.column(column)) else { return 0 };
        let mut changed = 0;
        for row in t.rows.iter_mut().filter(|r| r[k].as_str() == Some(key)) {
            row[c] = value.clone();
            changed += 1;
        }
        changed
    }

    #[cfg(test)]
    /// Removes the rows of `table` whose `key_column` equals `key`.
    pub fn remove(&mut self, table: &str, key_column: &str, key: &str) -> usize {
        let Some(t) = self.tables.get_mut(table) else { return 0 };
        let Some(k) = t.column(key_column) else { return 0 };
        let before = t.rows.len();
        t.rows.retain(|r| r[k].as_str() != Some(key));
        before - t.rows.len()
    }
}
