//! The top panel: title, run errors, the x-axis choice and per-run controls (pause, resume,
//! step, σ and lr, checkpoint, stop).

use std::path::PathBuf;

use eggroll_core::Command;
use egui::Color32;

use crate::app::{Dashboard, XAxis, hsv};

impl Dashboard {
    pub(crate) fn controls(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading(&self.title);
        });
        for (label, message) in &self.errors {
            ui.colored_label(
                Color32::from_rgb(214, 39, 40),
                format!("run {label} failed: {message}"),
            );
        }
        ui.horizontal(|ui| {
            ui.label("x axis:");
            ui.radio_value(&mut self.x_axis, XAxis::Generation, "generation");
            ui.radio_value(&mut self.x_axis, XAxis::Evaluations, "evaluations");
            ui.radio_value(&mut self.x_axis, XAxis::WallTime, "wall time");
        });
        for i in 0..self.runs.len() {
            let live = self.runs[i].feed.commands.is_some();
            let gens = self.runs[i].history.len();
            let last = self.runs[i].history.last().cloned();
            ui.horizontal(|ui| {
                let r = &self.runs[i];
                ui.colored_label(hsv(i), format!("{}: {gens} generations", r.feed.label));
                if let Some(s) = &last {
                    ui.label(format!(
                        "mean {:.4}  best {:.4}  {:.0} evals/s",
                        s.mean, s.best_ever, s.evals_per_s
                    ));
                }
                if !live {
                    ui.label("(replay)");
                    return;
                }
                let paused = self.runs[i].paused;
                if ui.button(if paused { "Resume" } else { "Pause" }).clicked() {
                    self.send(
                        i,
                        if paused {
                            Command::Resume
                        } else {
                            Command::Pause
                        },
                    );
                }
                if ui.button("Step").clicked() {
                    self.send(i, Command::Step);
                }
                let mut sigma = self.runs[i].sigma;
                if ui
                    .add(
                        egui::Slider::new(&mut sigma, 0.001..=2.0)
                            .logarithmic(true)
                            .text("σ"),
                    )
                    .changed()
                {
                    self.send(i, Command::SetSigma(sigma));
                }
                let mut lr = self.runs[i].lr;
                if ui
                    .add(
                        egui::Slider::new(&mut lr, 1e-4..=1.0)
                            .logarithmic(true)
                            .text("lr"),
                    )
                    .changed()
                {
                    self.send(i, Command::SetLearningRate(lr));
                }
                if ui.button("Save checkpoint").clicked() {
                    let dir = self
                        .checkpoint_dir
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("."));
                    let path = dir.join(format!("dashboard-gen{gens}.safetensors"));
                    self.runs[i]
                        .log
                        .push(format!("checkpoint → {}", path.display()));
                    self.send(i, Command::SaveCheckpoint(path));
                }
                if ui.button("Stop").clicked() {
                    self.send(i, Command::Stop);
                }
            });
            if let Some(msg) = self.runs[i].log.last() {
                ui.small(msg.clone());
            }
        }
    }
}
