//! Prints command results: an aligned table for people, JSON for scripts.

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::Table;
use serde::Serialize;

/// A row type that can be shown as a table.
pub trait Tabular {
    const HEADERS: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn list<T: Serialize + Tabular>(&self, rows: &[T]) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(rows)?);
            return Ok(());
        }
        if rows.is_empty() {
            println!("(none)");
            return Ok(());
        }
        let mut table = Table::new();
        table.load_preset(UTF8_BORDERS_ONLY).set_header(T::HEADERS);
        for row in rows {
            let cells = row.cells();
            debug_assert_eq!(
                cells.len(),
                T::HEADERS.len(),
                "a row has one cell per header"
            );
            table.add_row(cells);
        }
        println!("{table}");
        Ok(())
    }

    /// A created entity: its id alone for people (easy to capture in shell), `{"id": N}` as JSON.
    pub fn created(&self, id: impl Serialize + std::fmt::Display) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::json!({ "id": id }));
        } else {
            println!("{id}");
        }
        Ok(())
    }

    /// A secret shown once: alone on stdout for people (with a reminder on stderr),
    /// `{"id": N, "token": "..."}` as JSON.
    pub fn secret(&self, id: i64, token: &str) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::json!({ "id": id, "token": token }));
        } else {
            println!("{token}");
            eprintln!("token {id} created; it is shown only now, keep it somewhere safe");
        }
        Ok(())
    }

    /// How many things an action did: `{"<what>": N}` as JSON, `N <what>` for people.
    pub fn count(&self, what: &str, count: u64) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::json!({ what: count }));
        } else {
            println!("{count} {what}");
        }
        Ok(())
    }

    /// A confirmation line for an action that returns nothing.
    pub fn done(&self, message: &str) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::json!({ "ok": true, "message": message }));
        } else {
            println!("{message}");
        }
        Ok(())
    }
}
