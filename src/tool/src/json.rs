// SPDX-License-Identifier: GPL-2.0
//! The JSON documents `dm-remap` prints (`status`, `list`, `stats`,
//! `dump`) are objects whose first member is `schema_version`: a consumer
//! checks it, and the version changes when a member is removed, renamed or
//! changes meaning. Members are only ever added within a version
//! (Documentation/dm-remap-tool.rst, "JSON output").

use serde::Serialize;

/// The version of every JSON document the tool prints.
pub const SCHEMA_VERSION: u32 = 1;

/// A document: `schema_version`, then `body`'s members (a struct).
#[derive(Serialize)]
pub struct Document<T: Serialize> {
    pub schema_version: u32,
    #[serde(flatten)]
    pub body: T,
}

/// `body` as a pretty-printed document of [`SCHEMA_VERSION`].
pub fn render<T: Serialize>(body: T) -> Result<String, String> {
    serde_json::to_string_pretty(&Document { schema_version: SCHEMA_VERSION, body }).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use crate::status::{parse_line, render as status, Format, RecordFormat};

    /// Every JSON document starts with `"schema_version": 1`.
    #[test]
    fn every_json_output_starts_with_its_schema_version() {
        let d = parse_line(
            "a: 0 131072 remap 3 7:0 7:1 512 8 30784 8 17 76 0 2 1 ok 6 \
             0c6e7e32a1f04f2f8a4bd3a3d3b6ef01 1 1 5 2 1 on 3 3 80 95 done 100 131072 1",
            None,
        )
        .unwrap();
        let outputs = [
            ("status", status(&[d], Format::Json).unwrap()),
            ("list", crate::remaps::render("a", "1 0 8 ok\n", RecordFormat::Json).unwrap()),
            ("stats", crate::stats::render("a", "reads 1\n", RecordFormat::Json).unwrap()),
        ];
        for (what, out) in outputs {
            assert!(out.starts_with("{\n  \"schema_version\": 1,\n"), "{what} --format json: {out}");
        }
    }
}
