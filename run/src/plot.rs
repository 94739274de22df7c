//! Every chart a run writes, as `.png` and `.svg`, atomically (a temporary file renamed into
//! place): a run's fitness curve ([`fitness`]) and the line charts of the bbob runtime
//! distributions and the compare curves ([`LineChart`]).

use std::path::Path;

use eggroll_core::GenStats;

use crate::error::{Error, Result, io};

/// A plotters error as a [`Error::Plot`] naming `path` and the cause in words (the I/O or
/// image error behind the backend's wrappers, not their Debug dump).
pub(crate) fn drawing_error<E: std::error::Error + Send + Sync + 'static>(
    path: &Path,
) -> impl Fn(plotters::drawing::DrawingAreaErrorKind<E>) -> Error + Copy + '_ {
    use plotters::drawing::DrawingAreaErrorKind as Area;
    use plotters_backend::DrawingErrorKind as Backend;
    move |e| {
        let reason = match &e {
            Area::BackendError(Backend::DrawingError(inner)) => {
                let any: &dyn std::any::Any = inner;
                match any.downcast_ref::<plotters_bitmap::BitMapBackendError>() {
                    Some(plotters_bitmap::BitMapBackendError::IOError(io)) => io.to_string(),
                    Some(plotters_bitmap::BitMapBackendError::ImageError(im)) => im.to_string(),
                    Some(plotters_bitmap::BitMapBackendError::InvalidBuffer) => {
                        "invalid image buffer".to_string()
                    }
                    _ => inner.to_string(),
                }
            }
            Area::BackendError(Backend::FontError(f)) => format!("font: {f}"),
            other => other.to_string(),
        };
        Error::Plot {
            path: path.to_path_buf(),
            reason,
        }
    }
}

/// One chart.
pub struct LineChart<'a> {
    /// Caption.
    pub title: &'a str,
    /// x-axis label.
    pub x_desc: &'a str,
    /// y-axis label.
    pub y_desc: &'a str,
    /// x range.
    pub x_range: (f64, f64),
    /// y range.
    pub y_range: (f64, f64),
    /// Labelled series of (x, y) points.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

impl LineChart<'_> {
    /// Write `dir/<stem>.png` and `dir/<stem>.svg`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<()> {
        let text = ensure_font();
        for ext in ["png", "svg"] {
            let path = dir.join(format!("{stem}.{ext}"));
            let tmp = dir.join(format!(".{stem}.tmp.{ext}"));
            {
                use plotters::prelude::*;
                if ext == "svg" {
                    self.draw(
                        SVGBackend::new(&tmp, (900, 560)).into_drawing_area(),
                        text,
                        &path,
                    )?;
                } else {
                    self.draw(
                        BitMapBackend::new(&tmp, (900, 560)).into_drawing_area(),
                        text,
                        &path,
                    )?;
                }
            }
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
        }
        Ok(())
    }

    fn draw<DB: plotters::prelude::DrawingBackend>(
        &self,
        root: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
        text: bool,
        path: &Path,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        use plotters::prelude::*;
        let e = drawing_error::<DB::ErrorType>(path);
        root.fill(&WHITE).map_err(e)?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(16);
        if text {
            builder
                .caption(self.title, ("sans-serif", 18))
                .x_label_area_size(40)
                .y_label_area_size(56);
        }
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let mut chart = builder
            .build_cartesian_2d(x0..x1.max(x0 + 1e-9), y0..y1.max(y0 + 1e-9))
            .map_err(e)?;
        if text {
            chart
                .configure_mesh()
                .x_desc(self.x_desc)
                .y_desc(self.y_desc)
                .draw()
                .map_err(e)?;
        } else {
            chart.configure_mesh().draw().map_err(e)?;
        }
        for (k, (label, points)) in self.series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let series = chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(e)?;
            if text {
                series
                    .label(label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            }
        }
        if text && !self.series.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(e)?;
        }
        root.present().map_err(e)?;
        Ok(())
    }
}

/// Draw `fitness.png` and `fitness.svg`: mean, max, min, best-ever fitness over generations
/// with a ±std band.
pub fn fitness(dir: &Path, task: &str, stats: &[GenStats]) -> Result<()> {
    if stats.is_empty() {
        return Ok(());
    }
    let fonts = ensure_font();
    let png = dir.join(crate::layout::FITNESS_PNG);
    let svg = dir.join(crate::layout::FITNESS_SVG);
    let tmp_png = dir.join(".fitness.png.tmp.png");
    let tmp_svg = dir.join(".fitness.svg.tmp.svg");
    {
        use plotters::prelude::*;
        let root = BitMapBackend::new(&tmp_png, (960, 540)).into_drawing_area();
        draw(root, task, stats, fonts, &png)?;
        let root = SVGBackend::new(&tmp_svg, (960, 540)).into_drawing_area();
        draw(root, task, stats, fonts, &svg)?;
    }
    std::fs::rename(&tmp_png, &png).map_err(io(&png))?;
    std::fs::rename(&tmp_svg, &svg).map_err(io(&svg))?;
    Ok(())
}

/// Register a system sans-serif font for PNG text (pure Rust, no fontconfig). Returns whether
/// one was found; without it the PNG has no text.
pub(crate) fn ensure_font() -> bool {
    use std::sync::OnceLock;
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        for path in [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/Library/Fonts/Arial.ttf",
            "C:\\Windows\\Fonts\\arial.ttf",
        ] {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(
                    "sans-serif",
                    plotters::style::FontStyle::Normal,
                    bytes,
                )
                .is_ok()
                {
                    return true;
                }
            }
        }
        false
    })
}

fn draw<DB: plotters::prelude::DrawingBackend>(
    root: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    task: &str,
    stats: &[GenStats],
    text: bool,
    path: &Path,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;
    let e = drawing_error::<DB::ErrorType>(path);
    root.fill(&WHITE).map_err(e)?;
    let x_max = stats.last().map_or(1, |s| s.generation + 1) as f64;
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for s in stats {
        for v in [s.min, s.max, s.best_ever, s.mean - s.std, s.mean + s.std] {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
        lo -= 1.0;
        hi += 1.0;
    }
    let pad = (hi - lo) * 0.05;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(16);
    if text {
        builder
            .caption(
                format!("{task}: fitness per generation"),
                ("sans-serif", 22),
            )
            .x_label_area_size(36)
            .y_label_area_size(64);
    }
    let mut chart = builder
        .build_cartesian_2d(0f64..x_max, (lo - pad) as f64..(hi + pad) as f64)
        .map_err(e)?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc("generation").y_desc("fitness");
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw().map_err(e)?;
    let band: Vec<(f64, f64)> = stats
        .iter()
        .map(|s| (s.generation as f64, (s.mean + s.std) as f64))
        .chain(
            stats
                .iter()
                .rev()
                .map(|s| (s.generation as f64, (s.mean - s.std) as f64)),
        )
        .collect();
    chart
        .draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.15))))
        .map_err(e)?;
    let series: [(&str, RGBColor, fn(&GenStats) -> f32); 4] = [
        ("mean", BLUE, |s| s.mean),
        ("max", GREEN, |s| s.max),
        ("min", RED, |s| s.min),
        ("best ever", BLACK, |s| s.best_ever),
    ];
    for (name, color, f) in series {
        let line = chart
            .draw_series(LineSeries::new(
                stats.iter().map(|s| (s.generation as f64, f(s) as f64)),
                color.stroke_width(2),
            ))
            .map_err(e)?;
        if text {
            line.label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
    }
    if text {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}
