//! A report as CSV: one row per KPI, then one per KPI and segment when the report is split.
//! Text that a spreadsheet would run as a formula is quoted.

use crate::format::change_display;
use crate::number;
use crate::report::{Card, Report};

/// Spreadsheets run cells that start like a formula: such text gets a leading quote.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// One row per KPI (segment empty), then one per KPI and segment when the report is split.
pub fn csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    // RFC 4180: CRLF line ends.
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record([
        "period",
        "section",
        "key",
        "name",
        "unit",
        "direction",
        "source",
        "segment",
        "value",
        "previous",
        "change_pct",
        "target_min",
        "target_max",
        "target_status",
        "change_display",
    ])?;
    let period = report.period.key.to_string();
    let mut row = |section: &str, c: &Card, rest: [&str; 8]| {
        let kpi = [
            period.as_str(),
            &cell(section),
            &c.meta.key,
            &cell(&c.meta.name),
            c.meta.unit.as_str(),
            c.meta.direction.as_str(),
            c.meta.source.as_str(),
        ];
        w.write_record(kpi.into_iter().chain(rest))
    };
    for section in &report.sections {
        for c in &section.kpis {
            let target = c.target.as_ref();
            row(
                &section.title,
                c,
                [
                    "",
                    &number::raw(c.value),
                    &number::raw(c.previous),
                    &number::raw(c.change_pct),
                    &number::raw(target.and_then(|t| t.bounds.min)),
                    &number::raw(target.and_then(|t| t.bounds.max)),
                    target.map(|t| t.status.as_str()).unwrap_or_default(),
                    c.change_display.as_deref().unwrap_or_default(),
                ],
            )?;
        }
    }
    for section in &report.sections {
        for c in &section.kpis {
            let Some(Some(segments)) = &c.segments else {
                continue;
            };
            for s in segments {
                row(
                    &section.title,
                    c,
                    [
                        &cell(&s.segment),
                        &number::raw(s.value),
                        &number::raw(s.previous),
                        "",
                        "",
                        "",
                        "",
                        &change_display(c.meta.unit, s.value, s.previous),
                    ],
                )?;
            }
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
