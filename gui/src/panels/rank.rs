//! The rank panel: the spectrum of the latest update ΔW and heatmaps of one member's
//! perturbation E₀ beside ΔW.

use egui_plot::{Bar, BarChart, Plot};

use crate::app::Dashboard;
use crate::linalg::singular_values;
use eggroll_core::Strategy;

use crate::widgets::{heatmap, policy_params};

impl Dashboard {
    pub(crate) fn rank_panel(&mut self, ui: &mut egui::Ui) {
        let Some(run) = self.runs.first() else { return };
        let Some(policy) = &run.feed.policy else {
            ui.label("(needs a policy network)");
            return;
        };
        let layers: Vec<(usize, String, usize, usize)> = run
            .feed
            .param_names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let l: usize = n
                    .strip_prefix("layers.")?
                    .strip_suffix(".weight")?
                    .parse()
                    .ok()?;
                Some((i, n.clone(), policy.sizes[l + 1], policy.sizes[l]))
            })
            .collect();
        if layers.is_empty() {
            return;
        }
        self.layer = self.layer.min(layers.len() - 1);
        egui::ComboBox::from_label("layer")
            .selected_text(layers[self.layer].1.clone())
            .show_ui(ui, |ui| {
                for (k, l) in layers.iter().enumerate() {
                    ui.selectable_value(&mut self.layer, k, format!("{} ({}×{})", l.1, l.2, l.3));
                }
            });
        let (idx, _, m, n) = layers[self.layer];
        let Some((generation, delta)) = &run.last_update else {
            ui.label("waiting for two consecutive generations…");
            return;
        };
        let dw = &delta[idx];
        let sv = singular_values(dw, m, n);
        let top = sv.first().copied().unwrap_or(0.0).max(1e-30);
        let numeric_rank = sv.iter().filter(|&&v| v > top * 1e-4).count();
        let pop = run.history.last().map_or(0, |s| s.fitness.len());
        if let Some(info) = run.feed.noise {
            ui.label(format!(
                "generation {generation}: rank(ΔW) ≈ {numeric_rank}; min(N/2·r, m, n) = {}",
                (pop / 2 * info.rank).min(m).min(n)
            ));
        }
        let bars: Vec<Bar> = sv
            .iter()
            .enumerate()
            .map(|(i, v)| Bar::new(i as f64, v / top).width(0.8))
            .collect();
        Plot::new("spectrum").height(60.0).show(ui, |p| {
            p.bar_chart(BarChart::new("σ_i(ΔW) / σ_1", bars));
        });
        // One member's perturbation E₀ of the generation that produced ΔW, drawn by core's
        // noise (a pure function of seed, parameter, epoch and pair) for a 2-member population.
        let e0 = run.feed.noise.and_then(|info| {
            let params = policy_params(policy, &run.feed.param_names)?;
            let es = eggroll_core::EsConfig {
                population_size: 2,
                rank: info.rank,
                seed: info.seed,
                noise_reuse: info.noise_reuse.max(1),
                ..eggroll_core::EsConfig::default()
            };
            let mut strategy = eggroll_core::Eggroll::new(es, &params).ok()?;
            let pop = strategy.ask(&params, generation.saturating_sub(1)).ok()?;
            pop.member_noise(&params, idx, 0).ok()
        });
        ui.horizontal(|ui| {
            if let Some(e) = &e0 {
                heatmap(ui, "E₀ (member 0, rank r)", e, m, n);
            }
            heatmap(ui, "ΔW (aggregated update)", dw, m, n);
        });
    }
}
