//! Line charts written as `<stem>.png` and `<stem>.svg`, atomically (a temporary file renamed
//! into place), for the bbob runtime distributions and the compare curves.

use std::path::Path;

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
        let text = crate::artifacts::ensure_font();
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
