// SPDX-License-Identifier: GPL-2.0
//! `zabbix-discovery`: Zabbix low-level discovery JSON of every dm-remap
//! device.

use serde_json::json;

use dm_remap_tool::status::{self, DeviceStatus};

use super::{Lift, Outcome};

/// The discovery JSON of `devices`.
pub fn discovery(devices: &[DeviceStatus]) -> String {
    let data: Vec<_> = devices
        .iter()
        .map(|d| json!({"{#DMREMAP}": d.name, "{#MAINDEV}": d.main_dev, "{#SPAREDEV}": d.spare_dev, "{#UUID}": d.uuid}))
        .collect();
    json!({ "data": data }).to_string()
}

pub fn run() -> anyhow::Result<Outcome> {
    let devices = status::collect(None).lift()?;
    println!("{}", discovery(&devices));
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dm_remap_tool::status::parse_line;

    fn dev(name: &str) -> DeviceStatus {
        let line = format!(
            "{name}: 0 8 remap 3 7:0 7:1 512 2 100 2 0 0 0 0 0 ok 3 00112233445566778899aabbccddeeff 2 0 0 0 0 on 3 3 80 95 idle 0 0 0"
        );
        parse_line(&line, None).unwrap()
    }

    #[test]
    fn zabbix_lists_every_device() {
        let v: serde_json::Value = serde_json::from_str(&discovery(&[dev("a"), dev("b")])).unwrap();
        assert_eq!(v["data"][1]["{#DMREMAP}"], "b");
    }
}
