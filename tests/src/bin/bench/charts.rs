//! SVG charts for docs/BENCHMARKS.md, drawn with plotters: cold start per program, warm
//! overhead per endpoint, and throughput and p99 against concurrency.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::endpoints::endpoint;
use crate::load::{Cell, CONCURRENCY, OPS};
use crate::warm;
use crate::BoxError;

const FONT_FILES: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// plotters measures text with a registered font (its `ab_glyph` backend): the system's
/// DejaVu Sans. Without one, there are no charts (the tables are still written).
pub fn register_font() -> Result<(), BoxError> {
    let bytes = FONT_FILES
        .iter()
        .find_map(|f| std::fs::read(f).ok())
        .ok_or("no DejaVu Sans font found (Debian: fonts-dejavu-core)")?;
    // plotters keeps the font for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| "the font does not parse")?;
    Ok(())
}

/// What a load panel plots of a cell.
type Metric = fn(&Cell) -> f64;

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn err<E: std::fmt::Debug>(e: E) -> Box<dyn std::error::Error> {
    format!("{e:?}").into()
}

/// Bars of cold-start medians (ms, log scale): baseline, functions, peer.
pub fn cold_starts(path: &Path, bars: &[(String, f64)]) -> Drawn {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max = bars.iter().map(|b| b.1).fold(1.0, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Cold start: exec to first /invocation/next (median, ms, log scale)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(0..bars.len(), (0.5f64..max).log_scale())
        .map_err(err)?;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len())
        .x_label_formatter(&|i| names.get(*i).cloned().unwrap_or_default())
        .y_desc("ms")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (name, v))| {
            let color = if name.contains("python") {
                RED
            } else if name.contains("hello") {
                BLACK
            } else {
                BLUE
            };
            Rectangle::new([(i, 0.5), (i + 1, *v)], color.mix(0.7).filled())
        }))
        .map_err(err)?;
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .map(|(i, (_, v))| Text::new(format!("{v:.1}"), (i, v * 1.15), ("sans-serif", 13))),
        )
        .map_err(err)?;
    root.present().map_err(err)
}

/// Bars of warm overhead (function p50 / raw p50) per endpoint, with the budget line.
pub fn overhead(path: &Path, rows: &[warm::Row]) -> Drawn {
    let root = SVGBackend::new(path, (900, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max = rows
        .iter()
        .map(warm::Row::ratio)
        .fold(warm::BUDGET, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Warm overhead per endpoint: p50 through the function / p50 of its raw work",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(250)
        .build_cartesian_2d(0f64..max, 0..rows.len())
        .map_err(err)?;
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len())
        .y_label_formatter(&|i| names.get(*i).cloned().unwrap_or_default())
        .x_desc("ratio")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(rows.iter().enumerate().map(|(i, r)| {
            let color = if r.ratio() > warm::BUDGET { RED } else { BLUE };
            Rectangle::new([(0.0, i), (r.ratio(), i + 1)], color.mix(0.7).filled())
        }))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(warm::BUDGET, 0), (warm::BUDGET, rows.len())],
            BLACK.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("budget {}x", warm::BUDGET));
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Throughput (left) and p99 (right) against concurrency, per operation, API and raw.
pub fn load(path: &Path, cells: &[Cell]) -> Drawn {
    let root = SVGBackend::new(path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (left, right) = root.split_horizontally(500);
    let x_max = *CONCURRENCY.last().expect("levels") as f64 * 1.1;
    let colors = [BLUE, RED, GREEN];
    let panels: [(&str, Metric); 2] = [
        ("requests/s", |c| c.per_sec),
        ("p99 (ms)", |c| c.stats.p99.as_secs_f64() * 1e3),
    ];
    for (area, (what, value)) in [left, right].into_iter().zip(panels) {
        let y_max = cells.iter().map(value).fold(1.0, f64::max) * 1.5;
        let mut chart = ChartBuilder::on(&area)
            .caption(
                format!("{what} vs concurrency (log scales)"),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d((0.8f64..x_max).log_scale(), (0.1f64..y_max).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("concurrency")
            .y_desc(what)
            .draw()
            .map_err(err)?;
        for (op, color) in OPS.iter().zip(colors) {
            for raw in [false, true] {
                let points: Vec<(f64, f64)> = cells
                    .iter()
                    .filter(|c| c.op == *op && c.raw == raw)
                    .map(|c| (c.concurrency as f64, value(c)))
                    .collect();
                let style = if raw {
                    color.mix(0.4).stroke_width(1)
                } else {
                    color.stroke_width(2)
                };
                let label = format!("{}{}", endpoint(*op).name, if raw { " (raw)" } else { "" });
                chart
                    .draw_series(LineSeries::new(points.clone(), style))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], style));
                chart
                    .draw_series(points.iter().map(|p| Circle::new(*p, 3, style.filled())))
                    .map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 11))
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}
