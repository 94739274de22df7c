//! This generation's fitness histogram and shaped weights.

use egui_plot::{Bar, BarChart, Plot, PlotPoints};

use crate::app::Dashboard;

impl Dashboard {
    pub(crate) fn distribution(&self, ui: &mut egui::Ui) {
        let Some(s) = self.runs.first().and_then(|r| r.history.last()) else {
            ui.label("waiting for the first generation…");
            return;
        };
        if s.fitness.is_empty() {
            ui.label("(per-member fitness is not stored in metrics files)");
            return;
        }
        let f = &s.fitness;
        let (lo, hi) = f
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        let bins = 20usize;
        let w = ((hi - lo) / bins as f32).max(1e-6);
        let mut counts = vec![0usize; bins];
        for &x in f.iter() {
            counts[(((x - lo) / w) as usize).min(bins - 1)] += 1;
        }
        let bars: Vec<Bar> = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                Bar::new((lo + (i as f32 + 0.5) * w) as f64, c as f64).width(w as f64 * 0.9)
            })
            .collect();
        Plot::new("histogram").height(80.0).show(ui, |p| {
            p.bar_chart(BarChart::new("fitness", bars));
        });
        // Shaped weights, with the run's own shaping: what each member contributes.
        let shaped = self.shaped_weights().unwrap_or_default();
        Plot::new("shaped").height(60.0).show(ui, |p| {
            let pts: PlotPoints<'_> = shaped
                .iter()
                .enumerate()
                .map(|(i, &v)| [i as f64, v as f64])
                .collect();
            p.points(egui_plot::Points::new("shaped weight", pts).radius(1.5));
        });
    }
}
