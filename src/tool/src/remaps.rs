// SPDX-License-Identifier: GPL-2.0
//! `list --format json|csv`: the target's `list_remaps` answer
//! (`main_block spare_block length state` lines, then `<block> - 1
//! pending` lines; Documentation/dm-remap.rst) as records.

use serde::Serialize;

use crate::status::{self, RecordFormat};

/// One line of `list_remaps`: a remapped run, or a pending block (no spare
/// block yet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemapEntry {
    pub main_block: u64,
    /// Block of the spare device; none for a pending block.
    pub spare_block: Option<u64>,
    pub length: u64,
    /// `ok`, `lost` or `pending`.
    pub state: String,
}

fn number(word: &str, line: &str) -> Result<u64, String> {
    word.parse().map_err(|_| format!("list_remaps line '{line}': '{word}' is not a number"))
}

/// The records of a whole `list_remaps` answer (no `next` line: without a
/// count the target lists everything).
pub fn parse(text: &str) -> Result<Vec<RemapEntry>, String> {
    let mut out = vec![];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [main, spare, length, state, ..] = w[..] else {
            return Err(format!("list_remaps line '{line}' has fewer than 4 fields"));
        };
        let spare_block = if spare == "-" { None } else { Some(number(spare, line)?) };
        out.push(RemapEntry {
            main_block: number(main, line)?,
            spare_block,
            length: number(length, line)?,
            state: state.to_string(),
        });
    }
    Ok(out)
}

/// `text` (a `list_remaps` answer of `device`) in `format`.
pub fn render(device: &str, text: &str, format: RecordFormat) -> Result<String, String> {
    match format {
        RecordFormat::Table => Ok(text.to_string()),
        RecordFormat::Json => {
            #[derive(Serialize)]
            struct Body<'a> {
                device: &'a str,
                remaps: Vec<RemapEntry>,
            }
            crate::json::render(Body { device, remaps: parse(text)? })
        }
        RecordFormat::Csv => {
            let entries = parse(text)?;
            if entries.is_empty() {
                return Ok("main_block,spare_block,length,state\n".into());
            }
            status::csv(&entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "100 0 8 ok\n4096 8 2 lost\n77 - 1 pending\n";

    #[test]
    fn runs_and_pending_blocks_become_records() {
        let e = parse(ANSWER).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1], RemapEntry { main_block: 4096, spare_block: Some(8), length: 2, state: "lost".into() });
        assert_eq!(e[2].spare_block, None, "a pending block has no spare block");
        assert!(parse("1 2 3\n").unwrap_err().contains("fewer than 4 fields"));
        assert!(parse("1 x 3 ok\n").unwrap_err().contains("'x' is not a number"));
    }

    #[test]
    fn every_list_format_renders() {
        assert_eq!(render("a", ANSWER, RecordFormat::Table).unwrap(), ANSWER, "table is the target's text");
        let json: serde_json::Value = serde_json::from_str(&render("a", ANSWER, RecordFormat::Json).unwrap()).unwrap();
        assert_eq!(json["device"], "a");
        assert_eq!(json["remaps"][2]["state"], "pending");
        assert_eq!(json["remaps"][2]["spare_block"], serde_json::Value::Null);
        let csv = render("a", ANSWER, RecordFormat::Csv).unwrap();
        assert_eq!(csv, "main_block,spare_block,length,state\n100,0,8,ok\n4096,8,2,lost\n77,,1,pending\n");
        assert_eq!(render("a", "", RecordFormat::Csv).unwrap(), "main_block,spare_block,length,state\n");
    }
}
