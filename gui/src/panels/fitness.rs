//! The central fitness plot: mean, max, min, best-ever and a ±std band per run.

use eggroll_core::GenStats;
use egui::{Color32, Stroke};
use egui_plot::{Legend, Line, Plot, PlotPoints, Polygon};

use crate::app::{Dashboard, XAxis, hsv};

impl Dashboard {
    pub(crate) fn fitness_plot(&self, ui: &mut egui::Ui) {
        let label = match self.x_axis {
            XAxis::Generation => "generation",
            XAxis::Evaluations => "evaluations",
            XAxis::WallTime => "seconds",
        };
        Plot::new("fitness")
            .legend(Legend::default())
            .x_axis_label(label)
            .y_axis_label("fitness")
            .show(ui, |p| {
                let compare = self.runs.len() > 1;
                for (i, r) in self.runs.iter().enumerate() {
                    let h = &r.history;
                    if h.is_empty() {
                        continue;
                    }
                    let pts = |f: &dyn Fn(&GenStats) -> f32| -> PlotPoints<'_> {
                        h.iter().map(|s| [self.x_of(s), f(s) as f64]).collect()
                    };
                    if compare {
                        p.line(
                            Line::new(format!("{} mean", r.feed.label), pts(&|s| s.mean))
                                .color(hsv(i)),
                        );
                        continue;
                    }
                    // The ±std band as convex quads between consecutive points (a single
                    // concave polygon would be filled as a fan).
                    let stride = (h.len() / 400).max(1);
                    let idx: Vec<usize> =
                        (0..h.len()).step_by(stride).chain([h.len() - 1]).collect();
                    for w in idx.windows(2) {
                        let (a, b) = (&h[w[0]], &h[w[1]]);
                        let quad = vec![
                            [self.x_of(a), (a.mean - a.std) as f64],
                            [self.x_of(b), (b.mean - b.std) as f64],
                            [self.x_of(b), (b.mean + b.std) as f64],
                            [self.x_of(a), (a.mean + a.std) as f64],
                        ];
                        p.polygon(
                            Polygon::new("±std", PlotPoints::from(quad))
                                .fill_color(hsv(0).linear_multiply(0.2))
                                .stroke(Stroke::NONE),
                        );
                    }
                    p.line(Line::new("mean", pts(&|s| s.mean)).color(hsv(0)));
                    p.line(Line::new("max", pts(&|s| s.max)).color(hsv(2)));
                    p.line(Line::new("min", pts(&|s| s.min)).color(hsv(3)));
                    p.line(
                        Line::new("best ever", pts(&|s| s.best_ever))
                            .color(Color32::from_rgb(240, 190, 0)),
                    );
                }
            });
    }
}
