//! The dashboard's state and layout: runs, polling of their channels, commands, and the
//! panels (each in its own module under `panels/`) arranged in one window.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use eggroll_core::{Command, GenStats};
use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use crate::feed::{RunFeed, Snapshot};
use crate::sim::LiveSim;

/// The x axis of the fitness plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Generation number.
    Generation,
    /// Member evaluations so far.
    Evaluations,
    /// Seconds of training.
    WallTime,
}

/// The state of one run in the dashboard.
pub struct RunState {
    /// Where its data comes from.
    pub feed: RunFeed,
    /// Every statistic received so far.
    pub history: Vec<GenStats>,
    /// Latest mean parameters.
    pub snapshot: Option<Snapshot>,
    /// σ slider value.
    pub sigma: f32,
    /// Learning-rate slider value.
    pub lr: f32,
    /// Whether the run was paused from the dashboard.
    pub paused: bool,
    /// Messages shown under the controls.
    pub log: Vec<String>,
    /// The snapshot before `snapshot`, to form the latest update ΔW.
    pub(crate) prev_snapshot: Option<Snapshot>,
    /// Latest update of each matrix parameter (from consecutive snapshots): (generation, ΔW).
    pub last_update: Option<(u64, Vec<Vec<f32>>)>,
}

/// The dashboard: a list of runs plus view settings.
pub struct Dashboard {
    /// The runs (one live run, several in compare mode, or one replay).
    pub runs: Vec<RunState>,
    /// The fitness plot's x axis.
    pub x_axis: XAxis,
    /// Where "Save checkpoint" writes.
    pub checkpoint_dir: Option<PathBuf>,
    pub(crate) title: String,
    pub(crate) sim: Option<LiveSim>,
    /// Matrix parameter shown in the rank/σ panel.
    pub layer: usize,
    /// Errors of runs (label, message), shown at the top of the window as they arrive.
    pub errors: Vec<(String, String)>,
    pub(crate) error_rx: Option<Receiver<(String, String)>>,
}

pub(crate) fn hsv(i: usize) -> Color32 {
    const C: [Color32; 6] = [
        Color32::from_rgb(31, 119, 180),
        Color32::from_rgb(255, 127, 14),
        Color32::from_rgb(44, 160, 44),
        Color32::from_rgb(214, 39, 40),
        Color32::from_rgb(148, 103, 189),
        Color32::from_rgb(140, 86, 75),
    ];
    C[i % C.len()]
}

impl Dashboard {
    /// A dashboard over `runs`.
    pub fn new(runs: Vec<RunFeed>) -> Self {
        let title = match runs.first() {
            Some(r) if runs.len() == 1 => format!("eggroll — {} ({})", r.task, r.info),
            Some(r) => format!("eggroll — compare {} runs on {}", runs.len(), r.task),
            None => "eggroll".into(),
        };
        Self {
            runs: runs
                .into_iter()
                .map(|feed| RunState {
                    sigma: feed.sigma,
                    lr: feed.lr,
                    feed,
                    history: Vec::new(),
                    snapshot: None,
                    paused: false,
                    log: Vec::new(),
                    prev_snapshot: None,
                    last_update: None,
                })
                .collect(),
            x_axis: XAxis::Generation,
            checkpoint_dir: None,
            title,
            sim: None,
            layer: 0,
            errors: Vec::new(),
            error_rx: None,
        }
    }

    /// Show the errors that arrive on `rx` (label of the run, message) at the top of the
    /// window, as soon as they arrive (compare mode: a run that fails while others train).
    pub fn with_errors(mut self, rx: Receiver<(String, String)>) -> Self {
        self.error_rx = Some(rx);
        self
    }

    /// The window title (task, config, throughput).
    pub fn title(&self) -> String {
        match self.runs.first().and_then(|r| r.history.last()) {
            Some(s) => format!("{} — {:.0} evals/s", self.title, s.evals_per_s),
            None => self.title.clone(),
        }
    }

    /// Take everything that arrived on the channels (never blocks).
    pub fn poll(&mut self) {
        if let Some(rx) = &self.error_rx {
            self.errors.extend(rx.try_iter());
        }
        for r in &mut self.runs {
            r.history.extend(r.feed.stats.try_iter());
            if let Some(rx) = &r.feed.snapshots {
                for s in rx.try_iter() {
                    if let Some(prev) = r.snapshot.take() {
                        if prev.generation + 1 == s.generation {
                            let delta = s
                                .values
                                .iter()
                                .zip(&prev.values)
                                .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x - y).collect())
                                .collect();
                            r.last_update = Some((s.generation, delta));
                        }
                        r.prev_snapshot = Some(prev);
                    }
                    r.snapshot = Some(s);
                }
            }
        }
    }

    /// Send a command to run `i` (no-op for replays).
    pub fn send(&mut self, i: usize, cmd: Command) {
        let Some(r) = self.runs.get_mut(i) else {
            return;
        };
        match &cmd {
            Command::Pause => r.paused = true,
            Command::Resume => r.paused = false,
            Command::SetSigma(s) => r.sigma = *s,
            Command::SetLearningRate(l) => r.lr = *l,
            _ => {}
        }
        if let Some(tx) = &r.feed.commands
            && tx.send(cmd).is_err()
        {
            r.log.push("the run has ended".into());
        }
    }

    /// Generations received for run `i`.
    pub fn generations(&self, i: usize) -> usize {
        self.runs.get(i).map_or(0, |r| r.history.len())
    }

    /// Draw the whole dashboard into `ui`.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        egui::Panel::top("controls").show(ui, |ui| self.controls(ui));
        egui::Panel::right("side")
            .default_size(380.0)
            .show(ui, |ui| self.side(ui));
        egui::CentralPanel::default().show(ui, |ui| self.fitness_plot(ui));
    }

    /// The side panel, every section reachable: the live view first, then this generation,
    /// the hyperparameters and the rank panel, in a scroll area that fills the panel.
    fn side(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.strong("Live task");
                self.live_view(ui);
                ui.separator();
                ui.strong("This generation");
                self.distribution(ui);
                ui.separator();
                ui.strong("σ, learning rate, update norm");
                self.hyper_plot(ui);
                ui.separator();
                ui.strong("Rank and σ effects: the latest update ΔW");
                self.rank_panel(ui);
            });
    }

    fn hyper_plot(&self, ui: &mut egui::Ui) {
        Plot::new("hyper")
            .height(90.0)
            .legend(Legend::default())
            .show(ui, |p| {
                for (i, r) in self.runs.iter().enumerate() {
                    let tag = if self.runs.len() > 1 {
                        format!(" {}", r.feed.label)
                    } else {
                        String::new()
                    };
                    let pts = |f: &dyn Fn(&GenStats) -> f32| -> PlotPoints<'_> {
                        r.history
                            .iter()
                            .map(|s| [s.generation as f64, f(s) as f64])
                            .collect()
                    };
                    p.line(Line::new(format!("σ{tag}"), pts(&|s| s.sigma)).color(hsv(i)));
                    p.line(Line::new(format!("lr{tag}"), pts(&|s| s.lr)).color(hsv(i + 1)));
                    p.line(
                        Line::new(format!("|Δθ|{tag}"), pts(&|s| s.update_norm)).color(hsv(i + 2)),
                    );
                }
            });
    }

    pub(crate) fn x_of(&self, s: &GenStats) -> f64 {
        match self.x_axis {
            XAxis::Generation => s.generation as f64,
            XAxis::Evaluations => s.evals as f64,
            XAxis::WallTime => s.wall_s,
        }
    }

    /// The shaped weights of the first run's latest generation, with that run's shaping and
    /// group size (what the shaped-weights panel plots); None before per-member fitness arrives.
    pub fn shaped_weights(&self) -> Option<Vec<f32>> {
        let run = self.runs.first()?;
        let s = run.history.last()?;
        if s.fitness.is_empty() {
            return None;
        }
        let (shaping, group) = run.feed.shaping;
        Some(eggroll_core::shaping::shape(&s.fitness, shaping, group))
    }
}

impl eframe::App for Dashboard {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        Dashboard::ui(self, ui);
        ui.ctx()
            .send_viewport_cmd(egui::ViewportCommand::Title(self.title()));
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
}

/// Open the dashboard in a native window (blocks until it is closed).
pub fn run_native(dashboard: Dashboard) -> Result<(), String> {
    let title = dashboard.title();
    eframe::run_native(
        &title,
        eframe::NativeOptions {
            viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 800.0]),
            ..Default::default()
        },
        Box::new(|_cc| Ok(Box::new(dashboard))),
    )
    .map_err(|e| e.to_string())
}
