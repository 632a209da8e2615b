// SPDX-License-Identifier: GPL-2.0
//! XML output without an XML library (the boot tool stays lean): a root
//! element holding one element per record, each field an element of its
//! own (empty: `<field/>`), in field order. The fields come from the record's serde form, as
//! for CSV, so the two formats cannot disagree; records must be flat.

use serde::Serialize;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<root><item><field>value</field>...</item>...</root>` for `records`.
pub fn render<T: Serialize>(root: &str, item: &str, records: &[T]) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(vec![]);
    for r in records {
        w.serialize(r).map_err(|e| e.to_string())?;
    }
    let table = w.into_inner().map_err(|e| e.to_string())?;
    let mut r = csv::Reader::from_reader(table.as_slice());
    let fields = r.headers().map_err(|e| e.to_string())?.clone();
    let mut records = r.records().peekable();
    if records.peek().is_none() {
        return Ok(format!("<{root}/>"));
    }
    let mut out = format!("<{root}>");
    for record in records {
        let record = record.map_err(|e| e.to_string())?;
        out += &format!("<{item}>");
        for (field, value) in fields.iter().zip(record.iter()) {
            if value.is_empty() {
                out += &format!("<{field}/>");
            } else {
                out += &format!("<{field}>{}</{field}>", escape(value));
            }
        }
        out += &format!("</{item}>");
    }
    out += &format!("</{root}>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Rec {
        name: String,
        count: u64,
        ratio: u32,
    }

    #[derive(Serialize)]
    #[serde(rename = "root")]
    struct Doc<'a> {
        item: &'a [Rec],
    }

    /// The format is the one quick-xml's serde writer gave before the tool
    /// dropped it: the same bytes, escaping included.
    #[test]
    fn matches_what_quick_xml_wrote() {
        let recs = [
            Rec { name: "a".into(), count: 1, ratio: 80 },
            Rec { name: "".into(), count: 0, ratio: 7 },
            Rec { name: "b&<c>\"d'".into(), count: u64::MAX, ratio: 0 },
        ];
        for recs in [&recs[..], &recs[1..], &[]] {
            let want = quick_xml::se::to_string(&Doc { item: recs }).unwrap();
            assert_eq!(render("root", "item", recs).unwrap(), want);
        }
    }
}
