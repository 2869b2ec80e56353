//! NIST SP 800-53 rev 5 controls: ids and titles, derived from the HIGH baseline catalog
//! (OSCAL) by `scripts/gen_controls.py` into `controls.tsv`, which is compiled in.
//!
//! Two spellings of one id: `AC-2(1)` for people (the catalog's label) and `ac-2.1` in OSCAL.
//! [`normalise`] turns either into the OSCAL form, which is the key everywhere in code.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("controls.tsv");

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Control {
    /// OSCAL id, e.g. `sc-28.1`.
    pub id: String,
    /// The catalog's label, e.g. `SC-28(1)`.
    pub label: String,
    pub title: String,
    /// Family id, e.g. `sc`.
    pub family: String,
    pub family_title: String,
}

struct Table {
    controls: Vec<Control>,
    by_id: HashMap<String, usize>,
}

fn table() -> &'static Table {
    static TABLE_CELL: OnceLock<Table> = OnceLock::new();
    TABLE_CELL.get_or_init(|| {
        let controls: Vec<Control> = TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                Some(Control {
                    id: cols.next()?.to_string(),
                    label: cols.next()?.to_string(),
                    title: cols.next()?.to_string(),
                    family: cols.next()?.to_string(),
                    family_title: cols.next()?.to_string(),
                })
            })
            .collect();
        let by_id = controls
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Table { controls, by_id }
    })
}

/// Every control in the table, in catalog order.
pub fn all() -> &'static [Control] {
    &table().controls
}

/// `AC-2(1)`, `ac-2.1`, `AC-02(01)` or `ac-2(1)` → `ac-2.1`. `None` when it is not shaped like
/// a control id at all.
pub fn normalise(id: &str) -> Option<String> {
    let id = id.trim().to_ascii_lowercase();
    let (family, rest) = id.split_once('-')?;
    if family.len() != 2 || !family.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let (base, enhancement) = match rest.split_once('(') {
        Some((base, enh)) => (base, Some(enh.strip_suffix(')')?)),
        None => match rest.split_once('.') {
            Some((base, enh)) => (base, Some(enh)),
            None => (rest, None),
        },
    };
    let number = |s: &str| s.parse::<u32>().ok();
    let base = number(base)?;
    match enhancement {
        Some(e) => Some(format!("{family}-{base}.{}", number(e)?)),
        None => Some(format!("{family}-{base}")),
    }
}

/// The control with this id (either spelling), if the table has it.
pub fn lookup(id: &str) -> Option<&'static Control> {
    let key = normalise(id)?;
    let t = table();
    t.by_id.get(&key).map(|&i| &t.controls[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_meet_in_the_oscal_id() {
        assert_eq!(normalise("AC-2(1)").as_deref(), Some("ac-2.1"));
        assert_eq!(normalise("ac-2.1").as_deref(), Some("ac-2.1"));
        assert_eq!(normalise("SC-28(01)").as_deref(), Some("sc-28.1"));
        assert_eq!(normalise("AU-02").as_deref(), Some("au-2"));
        assert_eq!(normalise("AC6"), None);
        assert_eq!(normalise("AC-x"), None);
    }

    #[test]
    fn the_table_is_the_high_baseline() {
        assert_eq!(all().len(), 370);
        let c = lookup("SC-28(1)").expect("in the HIGH baseline");
        assert_eq!(c.title, "Cryptographic Protection");
        assert_eq!(c.label, "SC-28(1)");
        assert_eq!(c.family_title, "System and Communications Protection");
        assert!(lookup("AC-6").is_some());
        assert!(lookup("ZZ-1").is_none());
    }
}
