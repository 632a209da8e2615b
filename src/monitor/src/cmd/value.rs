// SPDX-License-Identifier: GPL-2.0
//! `value`: one field of one device, bare, for agents that read one value
//! per item (the Zabbix UserParameter `dm-remap.value[<dev>,<field>]`).

use anyhow::{bail, Context};
use serde_json::Value;

use dm_remap_tool::status::{self, DeviceStatus};

use super::{Lift, Outcome};

/// Fields computed from the status rather than shown by it.
pub const COMPUTED: [&str; 1] = ["spare_used_percent"];

/// Field `field` of `d`: a name of the JSON status (`status --format
/// json`), or `spare_used_percent`.
pub fn value(d: &DeviceStatus, field: &str) -> Result<String, String> {
    if field == "spare_used_percent" {
        let pct = if d.spare_total > 0 { d.spare_used as f64 * 100.0 / d.spare_total as f64 } else { 0.0 };
        return Ok(format!("{pct:.2}"));
    }
    let v = serde_json::to_value(d).map_err(|e| e.to_string())?;
    match v.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => {
            let names: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            Err(format!("no field '{field}'; the fields are: {} {}", names.join(" "), COMPUTED.join(" ")))
        }
    }
}

pub fn run(device: &str, field: &str) -> anyhow::Result<Outcome> {
    let devs = status::collect(Some(device)).lift()?;
    let Some(d) = devs.first() else { bail!("{device}: not a dm-remap device") };
    println!("{}", value(d, field).lift().with_context(|| format!("{device}: reading {field}"))?);
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dm_remap_tool::status::parse_line;

    #[test]
    fn fields_by_json_name() {
        let line = "d: 0 8 remap 3 7:0 7:1 512 2 100 25 0 0 0 0 5 degraded 3 00112233445566778899aabbccddeeff 1 1 2 0 1 on 3 3 80 95 idle 0 0 0";
        let d = parse_line(line, None).unwrap();
        assert_eq!(value(&d, "health").unwrap(), "degraded");
        assert_eq!(value(&d, "errors").unwrap(), "5");
        assert_eq!(value(&d, "spare_used_percent").unwrap(), "25.00");
        let e = value(&d, "frob").unwrap_err();
        assert!(e.contains(" health ") && e.ends_with(" spare_used_percent"), "{e}");
    }
}
