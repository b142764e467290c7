//! The report's charts as inline SVG, drawn here rather than by a chart library: the page then
//! needs no script at all (it opens offline, in any browser, and a mail client or a CI
//! artifact viewer shows it as it is), and what it shows is the text of the file (a test reads
//! it). Three kinds: lines over time, stacked columns over time, horizontal bars.

use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 260.0;
/// Room for the axis labels: left, right, top, bottom.
const PAD: (f64, f64, f64, f64) = (48.0, 16.0, 28.0, 30.0);

/// Colours that stay apart for people who do not tell red from green (Okabe–Ito).
pub const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];

/// One series of a time chart: its name, colour and a value per bucket.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub values: Vec<u64>,
}

/// Text for SVG and HTML: `&`, `<`, `>` and quotes escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A duration as a short label: `90 s`, `2 min`, `1.5 h`.
pub fn duration_label(ms: u64) -> String {
    let secs = ms as f64 / 1000.0;
    if secs < 120.0 {
        format!("{} s", trim(secs))
    } else if secs < 7200.0 {
        format!("{} min", trim(secs / 60.0))
    } else {
        format!("{} h", trim(secs / 3600.0))
    }
}

fn trim(value: f64) -> String {
    if value >= 10.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The top of a value axis at or above `value`, and how many grid intervals divide it into
/// round steps: up to 4 → 4 × 1, 5 → 5 × 1, 10 → 5 × 2, 20 → 4 × 5, 50 → 5 × 10, 100 → 5 × 20.
fn scale(value: u64) -> (u64, u64) {
    if value <= 4 {
        return (4, 4);
    }
    let mut step: u64 = 1;
    loop {
        for m in [1, 2, 5] {
            let top = step.saturating_mul(m);
            if top >= value {
                return (top, if m == 2 { 4 } else { 5 });
            }
        }
        step = step.saturating_mul(10);
    }
}

fn open(out: &mut String, id: &str, title: &str) {
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title>"#,
        escape(title)
    );
}

/// The frame of a time chart: horizontal grid lines with their values up to `top`, and time
/// labels under the x axis for `buckets` buckets of `bucket_ms`.
fn time_axes(out: &mut String, (top, intervals): (u64, u64), buckets: usize, bucket_ms: u64) {
    let (left, right, upper, lower) = PAD;
    let bottom = HEIGHT - lower;
    for i in 0..=intervals {
        let y = bottom - (bottom - upper) * i as f64 / intervals as f64;
        let value = top * i / intervals;
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{value}</text>"##,
            WIDTH - right,
            left - 6.0,
            y + 4.0
        );
    }
    let plot = WIDTH - left - right;
    let labels = buckets.clamp(1, 6);
    for i in 0..=labels {
        let bucket = buckets * i / labels;
        let x = left + plot * bucket as f64 / buckets.max(1) as f64;
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"#,
            HEIGHT - 10.0,
            duration_label(bucket as u64 * bucket_ms)
        );
    }
}

fn legend(out: &mut String, series: &[Series<'_>]) {
    let mut x = PAD.0;
    for s in series {
        let _ = write!(
            out,
            r#"<rect x="{x}" y="8" width="12" height="12" fill="{}"/><text x="{}" y="18" class="legend">{}</text>"#,
            s.colour,
            x + 16.0,
            escape(s.name)
        );
        x += 24.0 + 7.0 * s.name.chars().count() as f64;
    }
}

/// Lines over time, one per series, over buckets of `bucket_ms`.
pub fn lines(id: &str, title: &str, series: &[Series<'_>], bucket_ms: u64) -> String {
    let mut out = String::new();
    open(&mut out, id, title);
    let buckets = series.iter().map(|s| s.values.len()).max().unwrap_or(0).max(1);
    let scale = scale(series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0));
    let top = scale.0;
    time_axes(&mut out, scale, buckets, bucket_ms);
    let (left, right, upper, lower) = PAD;
    let (plot_w, plot_h) = (WIDTH - left - right, HEIGHT - upper - lower);
    for s in series {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let x = left + plot_w * (i as f64 + 0.5) / buckets as f64;
                let y = HEIGHT - lower - plot_h * *v as f64 / top as f64;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            s.colour,
            points.join(" "),
            escape(s.name)
        );
    }
    legend(&mut out, series);
    out.push_str("</svg>");
    out
}

/// Columns over time, the series stacked in each bucket.
pub fn stacked_columns(id: &str, title: &str, series: &[Series<'_>], bucket_ms: u64) -> String {
    let mut out = String::new();
    open(&mut out, id, title);
    let buckets = series.iter().map(|s| s.values.len()).max().unwrap_or(0).max(1);
    let totals: Vec<u64> =
        (0..buckets).map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0)).sum()).collect();
    let scale = scale(totals.iter().copied().max().unwrap_or(0));
    let top = scale.0;
    time_axes(&mut out, scale, buckets, bucket_ms);
    let (left, right, upper, lower) = PAD;
    let (plot_w, plot_h) = (WIDTH - left - right, HEIGHT - upper - lower);
    let column = plot_w / buckets as f64;
    for i in 0..buckets {
        let mut base = HEIGHT - lower;
        for s in series {
            let value = s.values.get(i).copied().unwrap_or(0);
            if value == 0 {
                continue;
            }
            let h = plot_h * value as f64 / top as f64;
            base -= h;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{base:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {value}</title></rect>"#,
                left + column * i as f64 + column * 0.1,
                column * 0.8,
                s.colour,
                escape(s.name)
            );
        }
    }
    legend(&mut out, series);
    out.push_str("</svg>");
    out
}

/// One horizontal bar per row (label, value, the text shown after the bar), longest first as
/// given; at most 15 rows.
pub fn bars(id: &str, title: &str, rows: &[(String, u64, String)], colour: &str) -> String {
    const ROW: f64 = 22.0;
    let rows = &rows[..rows.len().min(15)];
    let height = 30.0 + ROW * rows.len().max(1) as f64;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{id}-title" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title>"#,
        escape(title)
    );
    let label_w = 190.0;
    let plot = WIDTH - label_w - 230.0;
    let top = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    for (i, (label, value, text)) in rows.iter().enumerate() {
        let y = 10.0 + ROW * i as f64;
        let w = plot * *value as f64 / top as f64;
        let _ = write!(
            out,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="label">{}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{colour}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" class="value">{}</text>"#,
            label_w - 8.0,
            y + 14.0,
            escape(label),
            ROW - 6.0,
            escape(label),
            escape(text),
            label_w + w + 6.0,
            y + 14.0,
            escape(text)
        );
    }
    if rows.is_empty() {
        let _ = write!(out, r#"<text x="{label_w}" y="24" class="label">none</text>"#);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_scales_are_round() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let tops = [0, 3, 5, 7, 10, 11, 260].map(scale);
        assert_eq!(tops, [(4, 4), (4, 4), (5, 5), (10, 5), (10, 5), (20, 4), (500, 5)]);
        assert_eq!(duration_label(90_000), "90 s");
        assert_eq!(duration_label(150_000), "2.5 min");
        assert_eq!(duration_label(3 * 3_600_000), "3 h");
    }

    #[test]
    fn a_chart_names_its_series_and_escapes_labels() {
        let series = [Series { name: "published", colour: PALETTE[0], values: vec![1, 5, 2] }];
        let svg = lines("timeline", "Publishes <over> time", &series, 1000);
        assert!(svg.starts_with("<svg id=\"timeline\"") && svg.ends_with("</svg>"));
        assert!(svg.contains("Publishes &lt;over&gt; time") && svg.contains(">published</text>"));
        let bars = bars("slow", "Slowest", &[("x/<acc>".into(), 3, "3 s".into())], PALETTE[1]);
        assert!(bars.contains("x/&lt;acc&gt;") && !bars.contains("<acc>"));
    }
}
