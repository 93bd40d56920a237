//! `cargo xtask bench --plot DIR`: two SVG charts of a benchmark run, drawn with `plotters`:
//! - `latency_vs_size.svg`: median round trip against payload size, Seam's IPC and Linux
//!   pipes (each system's smallest message first: Seam 0 bytes, Linux 1 byte);
//! - `round_trips.svg`: bars of the system-call floor and every round-trip mechanism of both.

use crate::bench::{median, Config, Figure};
use anyhow::{Context, Result};
use bench_stats::PAYLOAD_SIZES;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

const SIZE: (u32, u32) = (960, 600);
/// The bar chart is wider: eleven bars whose labels are up to 18 characters.
const BARS_SIZE: (u32, u32) = (1280, 600);
const SEAM: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const LINUX: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const FONT: &str = "sans-serif";

/// Draws both charts into `dir` (created if missing); returns the files written.
pub fn draw(dir: &Path, config: &Config, seam: &[Figure], linux: &[Figure]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (curve, bars) = (dir.join("latency_vs_size.svg"), dir.join("round_trips.svg"));
    latency_vs_size(&curve, config, seam, linux).with_context(|| format!("cannot draw {}", curve.display()))?;
    round_trips(&bars, config, seam, linux).with_context(|| format!("cannot draw {}", bars.display()))?;
    Ok(vec![curve, bars])
}

/// The size axis: each system's smallest message, then the shared payload sizes.
fn size_labels() -> Vec<String> {
    let sizes = PAYLOAD_SIZES.iter().map(|&s| if s >= 1024 { format!("{} KiB", s / 1024) } else { format!("{s} B") });
    std::iter::once("smallest".to_string()).chain(sizes).collect()
}

/// (position on the size axis, median) of each size a system measured.
fn curve(figures: &[Figure], smallest: &str, prefix: &str) -> Vec<(i32, u64)> {
    let names = std::iter::once(smallest.to_string()).chain(PAYLOAD_SIZES.iter().map(|s| format!("{prefix}{s}")));
    names.enumerate().filter_map(|(i, name)| Some((i as i32, median(figures, &name)?))).collect()
}

fn top(values: impl Iterator<Item = u64>) -> u64 {
    (values.max().unwrap_or(1) as f64 * 1.15) as u64 + 1
}

fn footer<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, config: &Config) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let line = format!("median TSC cycles of {} iterations. {}", config.iters, config_line(config));
    root.draw(&Text::new(line, (12, SIZE.1 as i32 - 18), (FONT, 12))).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

fn config_line(config: &Config) -> String {
    let icount = if config.icount { "icount shift=0" } else { "no icount" };
    let linux = config.linux.as_ref().map(|l| format!(", Linux {}", l.release)).unwrap_or_default();
    format!("QEMU {}, {icount}, cpu {}, {} vCPU{linux}", config.accel, config.cpu, config.vcpus)
}

fn latency_vs_size(path: &Path, config: &Config, seam: &[Figure], linux: &[Figure]) -> Result<()> {
    let labels = size_labels();
    let series = [
        ("Seam IPC call/reply (0 B smallest)", SEAM, curve(seam, "ipc_call_reply_0", "ipc_call_reply_")),
        ("Linux pipe round trip (1 B smallest)", LINUX, curve(linux, "linux_pipe_rtt", "linux_pipe_rtt_")),
    ];
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let y_max = top(series.iter().flat_map(|s| s.2.iter().map(|p| p.1)));
    let mut chart = ChartBuilder::on(&root)
        .caption("Round-trip latency versus payload size", (FONT, 22))
        .margin(24)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((0..labels.len() as i32 - 1).into_segmented(), 0..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("payload each way")
        .y_desc("median round trip, TSC cycles")
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .draw()?;
    for (name, color, points) in series {
        if points.is_empty() {
            continue;
        }
        let at = |&(i, v): &(i32, u64)| (SegmentValue::CenterOf(i), v);
        chart
            .draw_series(LineSeries::new(points.iter().map(at), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|p| Circle::new(at(p), 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    footer(&root, config)?;
    root.present()?;
    Ok(())
}

/// The bars: (label, system colour, median).
fn bars(seam: &[Figure], linux: &[Figure]) -> Vec<(&'static str, RGBColor, u64)> {
    let wanted = [
        ("Seam null syscall", SEAM, seam, "null_syscall"),
        ("Linux getpid", LINUX, linux, "linux_getpid"),
        ("Seam IPC 0 B", SEAM, seam, "ipc_call_reply_0"),
        ("Seam notification", SEAM, seam, "notify_signal_wait"),
        ("Linux futex", LINUX, linux, "linux_futex_rtt"),
        ("Linux pipe 1 B", LINUX, linux, "linux_pipe_rtt"),
        ("Linux unix 1 B", LINUX, linux, "linux_unix_rtt"),
        ("Seam compat ping", SEAM, seam, bench_stats::COMPAT_PING),
        ("Linux binder 0 B", LINUX, linux, "linux_binder_rtt"),
        ("Seam compat call", SEAM, seam, bench_stats::COMPAT_TRANSACTION),
        ("Linux binder 256 B", LINUX, linux, "linux_binder_rtt_256"),
    ];
    wanted
        .into_iter()
        .filter_map(|(label, color, figures, name)| Some((label, color, median(figures, name)?)))
        .collect()
}

fn round_trips(path: &Path, config: &Config, seam: &[Figure], linux: &[Figure]) -> Result<()> {
    let bars = bars(seam, linux);
    let root = SVGBackend::new(path, BARS_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let y_max = top(bars.iter().map(|b| b.2));
    let mut chart = ChartBuilder::on(&root)
        .caption("System call and round trips", (FONT, 22))
        .margin(24)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((0..bars.len().max(1) as i32 - 1).into_segmented(), 0..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("median, TSC cycles")
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                bars.get(*i as usize).map(|b| b.0.to_string()).unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, &(_, color, v))| {
        let i = i as i32;
        let mut bar = Rectangle::new([(SegmentValue::Exact(i), 0), (SegmentValue::Exact(i + 1), v)], color.filled());
        bar.set_margin(0, 0, 12, 12);
        bar
    }))?;
    let above = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(bars.iter().enumerate().map(|(i, &(_, _, v))| {
        Text::new(v.to_string(), (SegmentValue::CenterOf(i as i32), v + y_max / 100), above.clone())
    }))?;
    footer(&root, config)?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(name: &str, median: u64) -> Figure {
        Figure { name: name.into(), iters: 10, min: median, median, p99: median }
    }

    #[test]
    fn curves_and_bars_take_what_was_measured() {
        let seam = [figure("ipc_call_reply_0", 1158), figure("ipc_call_reply_4096", 3362), figure("null_syscall", 101)];
        let linux =
            [figure("linux_pipe_rtt", 13034), figure("linux_pipe_rtt_32", 13100), figure("linux_binder_rtt", 20000)];
        assert_eq!(curve(&seam, "ipc_call_reply_0", "ipc_call_reply_"), [(0, 1158), (5, 3362)]);
        assert_eq!(curve(&linux, "linux_pipe_rtt", "linux_pipe_rtt_"), [(0, 13034), (1, 13100)]);
        assert_eq!(size_labels(), ["smallest", "32 B", "64 B", "256 B", "1 KiB", "4 KiB"]);
        let labels: Vec<_> = bars(&seam, &linux).into_iter().map(|b| b.0).collect();
        assert_eq!(labels, ["Seam null syscall", "Seam IPC 0 B", "Linux pipe 1 B", "Linux binder 0 B"]);
    }
}
