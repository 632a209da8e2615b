// SPDX-License-Identifier: GPL-2.0
//! `stats --format json|csv`: the target's `stats` answer as one record.
//! The answer (Documentation/dm-remap.rst, "Messages") is `<name> <value>`
//! lines (I/O counters, commit latencies, table size), then histogram lines
//! `<name> <series> <count>...` (`latency_us_log2 main|spare`, 32 counts).

use serde_json::{Map, Value};

use crate::status::RecordFormat;

/// One line of the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stat {
    /// `<name> <value>`.
    Value(String, u64),
    /// `<name> <series> <count>...`: one series of a histogram.
    Series(String, String, Vec<u64>),
}

/// The lines of a `stats` answer, in its order.
pub fn parse(text: &str) -> Result<Vec<Stat>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let number = |w: &str| w.parse::<u64>().map_err(|_| format!("stats line '{line}': '{w}' is not a number"));
            match line.split_whitespace().collect::<Vec<_>>()[..] {
                [name, value] => Ok(Stat::Value(name.into(), number(value)?)),
                [name, series, ref counts @ ..] if !counts.is_empty() => Ok(Stat::Series(
                    name.into(),
                    series.into(),
                    counts.iter().map(|c| number(c)).collect::<Result<_, _>>()?,
                )),
                _ => Err(format!("stats line '{line}' is not '<name> <value>' or '<name> <series> <counts>'")),
            }
        })
        .collect()
}

/// `text` (the `stats` answer of `device`) in `format`: `table` is the
/// target's text; JSON has `stats` with a number per value and, per
/// histogram, an object of its series (arrays); CSV is a header and one row,
/// a histogram's counts as `<name>_<series>_<bucket>` columns.
pub fn render(device: &str, text: &str, format: RecordFormat) -> Result<String, String> {
    if format == RecordFormat::Table {
        return Ok(text.to_string());
    }
    let stats = parse(text)?;
    match format {
        RecordFormat::Json => {
            let mut map = Map::new();
            for s in stats {
                match s {
                    Stat::Value(name, v) => {
                        map.insert(name, v.into());
                    }
                    Stat::Series(name, series, counts) => {
                        let entry = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(o) = entry {
                            o.insert(series, counts.into());
                        }
                    }
                }
            }
            #[derive(serde::Serialize)]
            struct Body<'a> {
                device: &'a str,
                stats: Map<String, Value>,
            }
            crate::json::render(Body { device, stats: map })
        }
        _ => {
            let (mut header, mut row) = (vec!["device".to_string()], vec![device.to_string()]);
            for s in stats {
                match s {
                    Stat::Value(name, v) => {
                        header.push(name);
                        row.push(v.to_string());
                    }
                    Stat::Series(name, series, counts) => {
                        for (i, c) in counts.iter().enumerate() {
                            header.push(format!("{name}_{series}_{i}"));
                            row.push(c.to_string());
                        }
                    }
                }
            }
            let mut w = csv::Writer::from_writer(vec![]);
            w.write_record(&header).map_err(|e| e.to_string())?;
            w.write_record(&row).map_err(|e| e.to_string())?;
            String::from_utf8(w.into_inner().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded answer (6.12, one remap), histograms cut to 4 buckets.
    const ANSWER: &str = "reads 10\nwrites 4\ncommits 2\ncommit_p99_us 310\ntable_extents 1\n\
                          latency_us_log2 main 0 3 1 0\nlatency_us_log2 spare 0 0 2 0";

    #[test]
    fn every_stats_format_renders() {
        assert_eq!(render("a", ANSWER, RecordFormat::Table).unwrap(), ANSWER);
        let json: Value = serde_json::from_str(&render("a", ANSWER, RecordFormat::Json).unwrap()).unwrap();
        assert_eq!((json["device"].as_str(), json["stats"]["commit_p99_us"].as_u64()), (Some("a"), Some(310)));
        assert_eq!(json["stats"]["latency_us_log2"]["spare"], serde_json::json!([0, 0, 2, 0]));
        let csv = render("a", ANSWER, RecordFormat::Csv).unwrap();
        let mut lines = csv.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("device,reads,writes,commits,commit_p99_us,table_extents,latency_us_log2_main_0,"));
        assert!(lines.next().unwrap().ends_with(",0,3,1,0,0,0,2,0"), "{csv}");
        assert!(parse("reads many\n").unwrap_err().contains("'many' is not a number"));
        assert!(parse("reads\n").unwrap_err().contains("is not '<name> <value>'"));
    }
}
