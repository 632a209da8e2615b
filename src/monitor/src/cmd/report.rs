// SPDX-License-Identifier: GPL-2.0
//! `report`: an HTML page with, per device, charts of its error history and
//! spare use over time (SVG drawn with plotters) and its trend.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use crate::history::{Field, History, Sample};
use crate::trend::trend;

use super::{Lift, Outcome};

fn chart(samples: &[Sample], title: &str, series: &[(&str, Field<u64>, RGBColor)]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let t0 = samples.first().map_or(0, |s| s.time);
        let t1 = samples.last().map_or(1, |s| s.time).max(t0 + 1);
        let top = samples.iter().flat_map(|s| series.iter().map(move |(_, f, _)| f(s))).max().unwrap_or(1).max(1);
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..((t1 - t0) as f64 / 3600.0), 0u64..top + top / 10 + 1)
            .map_err(|e| e.to_string())?;
        c.configure_mesh().x_desc("hours").draw().map_err(|e| e.to_string())?;
        for (label, f, color) in series {
            let pts = samples.iter().map(|s| ((s.time - t0) as f64 / 3600.0, f(s)));
            c.draw_series(LineSeries::new(pts, color))
                .map_err(|e| e.to_string())?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        c.configure_series_labels().border_style(BLACK).draw().map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Renders the report of every device in `h` as HTML.
pub fn render(h: &History) -> Result<String, String> {
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>dm-remap report</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #999;padding:4px 8px}</style></head><body><h1>dm-remap report</h1>",
    );
    let devices = h.devices()?;
    if devices.is_empty() {
        html += "<p>No samples yet: run <code>dm-remap-monitor monitor</code>.</p>";
    }
    for name in devices {
        let samples = h.samples(&name, i64::MIN)?;
        let t = trend(&name, &samples);
        let last = samples.last();
        html += &format!(
            "<h2>{}</h2><table><tr><th>health</th><th>remapped</th><th>pending</th><th>spare used</th>\
             <th>errors/day</th><th>remaps/day</th><th>spare runway</th></tr><tr><td>{}</td><td>{}</td><td>{}</td>\
             <td>{} / {}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td></tr></table>",
            escape(&name),
            escape(last.map_or("-", |s| s.health.as_str())),
            last.map_or(0, |s| s.remaps),
            last.map_or(0, |s| s.pending),
            last.map_or(0, |s| s.spare_used),
            last.map_or(0, |s| s.spare_total),
            t.errors_per_day,
            t.remaps_per_day,
            t.spare_runway_days.map_or("no remaps lately".into(), |d| format!("{d:.0} days")),
        );
        html += &chart(
            &samples,
            "Errors",
            &[("errors", |s| s.errors, RED), ("unrecovered", |s| s.unrecovered_errors, BLACK)],
        )?;
        html += &chart(
            &samples,
            "Spare use",
            &[("spare used", |s| s.spare_used, BLUE), ("pending", |s| s.pending, MAGENTA)],
        )?;
    }
    html += "</body></html>\n";
    Ok(html)
}

/// `report`: writes the HTML report of the history at `db` to `out`.
pub fn run(db: &Path, out: &Path) -> anyhow::Result<Outcome> {
    let history = History::open_read_only(db).lift().with_context(|| format!("opening history {}", db.display()))?;
    let html = render(&history).lift().with_context(|| format!("rendering history {}", db.display()))?;
    std::fs::write(out, html).with_context(|| format!("writing report {}", out.display()))?;
    println!("report written to {}", out.display());
    Ok(Outcome::Clean)
}
