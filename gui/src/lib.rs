//! # eggroll-gui
//!
//! A live egui/eframe dashboard for eggroll training runs: fitness over generations
//! (mean, max, min, best-ever, ±std band; x axis by generation, evaluations or wall time), this
//! generation's fitness distribution and shaped weights, σ / learning rate / update norm,
//! overlaid runs in compare mode (e.g. ranks 1, 4, 16), a live view of the task driven by the
//! current mean policy, and controls (pause, resume, single step, σ and lr, save checkpoint,
//! stop).
//!
//! The UI is a function of [`Dashboard`] state. Training runs on its own threads and talks to
//! the UI over channels: statistics arrive on a bounded channel that drops messages when the UI
//! is slow (training never waits for drawing), commands go back as [`Command`]s applied between
//! generations by [`eggroll_core::Controller`] (the same path the CLI uses).
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

pub use eggroll_core::Command;
use eggroll_core::{ChannelObserver, Controller, Evaluator, GenStats, Trainer};
use eggroll_envs::{Action, CartPole, Environment, Pendulum};
use eggroll_policies::{Head, MlpConfig, forward::plain_row_forward};
use egui::{Color32, Pos2, Stroke, Vec2};
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints, Polygon};

/// The mean parameters after a generation, for live views.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Generations completed.
    pub generation: u64,
    /// Host values, one vector per parameter (the run's parameter order).
    pub values: Vec<Vec<f32>>,
}

/// Sends snapshots without ever blocking the trainer (drops when the UI has not taken the
/// previous one).
pub struct SnapshotSender(pub SyncSender<Snapshot>);

impl SnapshotSender {
    /// Offer a snapshot.
    pub fn offer(&self, s: Snapshot) {
        if let Err(TrySendError::Disconnected(_)) = self.0.try_send(s) {
            // The dashboard was closed; training continues.
        }
    }
}

/// One training run as the dashboard sees it.
pub struct RunFeed {
    /// Legend label (e.g. "rank 4").
    pub label: String,
    /// Task name (cartpole, pendulum, mnist, sphere, ...).
    pub task: String,
    /// The policy network, for the live task view.
    pub policy: Option<MlpConfig>,
    /// Parameter names in order (to map snapshots onto the policy).
    pub param_names: Vec<String>,
    /// One line describing the config (seed, population, rank, σ, lr).
    pub info: String,
    /// Initial σ and learning rate (slider positions).
    pub sigma: f32,
    /// Initial learning rate.
    pub lr: f32,
    /// Per-generation statistics.
    pub stats: Receiver<GenStats>,
    /// Mean-parameter snapshots (live runs).
    pub snapshots: Option<Receiver<Snapshot>>,
    /// Commands to the training loop (live runs; None for replays).
    pub commands: Option<Sender<Command>>,
    /// How the run draws its noise, so the dashboard can regenerate a member's perturbation.
    pub noise: Option<NoiseInfo>,
    /// MNIST test images for the prediction grid (mnist runs).
    pub mnist: Option<std::sync::Arc<eggroll_envs::mnist::Dataset>>,
    /// The run's fitness shaping and group size, for the shaped-weights panel (the strategy's
    /// `es.shaping` and `es.group_size`; z-score and 0 unless the run says otherwise).
    pub shaping: (eggroll_core::Shaping, usize),
}

/// What the dashboard needs to regenerate a member's low-rank perturbation (noise is a pure
/// function of these counters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseInfo {
    /// Noise seed.
    pub seed: u64,
    /// Low-rank rank.
    pub rank: usize,
    /// Generations per noise epoch.
    pub noise_reuse: u64,
}

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
    prev_snapshot: Option<Snapshot>,
    /// Latest update of each matrix parameter (from consecutive snapshots): (generation, ΔW).
    pub last_update: Option<(u64, Vec<Vec<f32>>)>,
}

/// The live task view: a simulator driven by the latest mean policy.
struct LiveSim {
    cart: CartPole,
    pend: Pendulum,
    obs: Vec<f32>,
    episode: u64,
    steps: usize,
}

/// The dashboard: a list of runs plus view settings.
pub struct Dashboard {
    /// The runs (one live run, several in compare mode, or one replay).
    pub runs: Vec<RunState>,
    /// The fitness plot's x axis.
    pub x_axis: XAxis,
    /// Where "Save checkpoint" writes.
    pub checkpoint_dir: Option<PathBuf>,
    title: String,
    sim: Option<LiveSim>,
    /// Matrix parameter shown in the rank/σ panel.
    pub layer: usize,
    /// Errors of runs (label, message), shown at the top of the window as they arrive.
    pub errors: Vec<(String, String)>,
    error_rx: Option<Receiver<(String, String)>>,
}

fn hsv(i: usize) -> Color32 {
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

    fn controls(&mut self, ui: &mut egui::Ui) {
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

    fn x_of(&self, s: &GenStats) -> f64 {
        match self.x_axis {
            XAxis::Generation => s.generation as f64,
            XAxis::Evaluations => s.evals as f64,
            XAxis::WallTime => s.wall_s,
        }
    }

    fn fitness_plot(&self, ui: &mut egui::Ui) {
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

    fn side(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.strong("This generation");
            self.distribution(ui);
            ui.separator();
            ui.strong("σ, learning rate, update norm");
            Plot::new("hyper")
                .height(150.0)
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
                            Line::new(format!("|Δθ|{tag}"), pts(&|s| s.update_norm))
                                .color(hsv(i + 2)),
                        );
                    }
                });
            ui.separator();
            ui.strong("Rank and σ effects: the latest update ΔW");
            self.rank_panel(ui);
            ui.separator();
            ui.strong("Live task");
            self.live_view(ui);
        });
    }

    fn distribution(&self, ui: &mut egui::Ui) {
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
        Plot::new("histogram").height(140.0).show(ui, |p| {
            p.bar_chart(BarChart::new("fitness", bars));
        });
        // Shaped weights, with the run's own shaping: what each member contributes.
        let shaped = self.shaped_weights().unwrap_or_default();
        Plot::new("shaped").height(100.0).show(ui, |p| {
            let pts: PlotPoints<'_> = shaped
                .iter()
                .enumerate()
                .map(|(i, &v)| [i as f64, v as f64])
                .collect();
            p.points(egui_plot::Points::new("shaped weight", pts).radius(1.5));
        });
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

    fn rank_panel(&mut self, ui: &mut egui::Ui) {
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
        Plot::new("spectrum").height(100.0).show(ui, |p| {
            p.bar_chart(BarChart::new("σ_i(ΔW) / σ_1", bars));
        });
        // One member's perturbation E_0 (regenerated from the counters) next to ΔW.
        let e0 = run.feed.noise.map(|info| {
            let g = generation.saturating_sub(1);
            let id = eggroll_core::noise::param_id(&run.feed.param_names[idx]);
            let (a, b) = eggroll_core::population::draw_lowrank(
                info.seed,
                id,
                g / info.noise_reuse.max(1),
                1,
                m,
                n,
                info.rank,
            );
            let c = 1.0 / (info.rank as f32).sqrt();
            let mut e = vec![0.0f32; m * n];
            for i in 0..m {
                for j in 0..n {
                    e[i * n + j] = c
                        * (0..info.rank)
                            .map(|q| a[i * info.rank + q] * b[j * info.rank + q])
                            .sum::<f32>();
                }
            }
            e
        });
        ui.horizontal(|ui| {
            if let Some(e) = &e0 {
                heatmap(ui, "E₀ (member 0, rank r)", e, m, n);
            }
            heatmap(ui, "ΔW (aggregated update)", dw, m, n);
        });
    }

    fn mnist_grid(&self, ui: &mut egui::Ui) -> bool {
        let Some(run) = self.runs.first() else {
            return false;
        };
        let (Some(data), Some(policy), Some(snap)) =
            (&run.feed.mnist, &run.feed.policy, &run.snapshot)
        else {
            return false;
        };
        let Some(params) = policy_params(policy, &run.feed.param_names) else {
            return false;
        };
        let p = data.pixels();
        let mut img = vec![0.0f32; p];
        let mut y = vec![0.0f32; 10];
        egui::Grid::new("mnist").show(ui, |ui| {
            for k in 0..16 {
                let i = (k * 613) % data.len();
                data.image_into(i, &mut img);
                plain_row_forward(policy, &params, &snap.values, &img, &mut y);
                let pred = Head::argmax(&y);
                let ok = pred == i64::from(data.labels[i]);
                ui.vertical(|ui| {
                    heatmap_gray(ui, &img, data.rows, data.cols);
                    ui.colored_label(
                        if ok { Color32::GREEN } else { Color32::RED },
                        format!("{pred}"),
                    );
                });
                if k % 4 == 3 {
                    ui.end_row();
                }
            }
        });
        true
    }

    fn live_view(&mut self, ui: &mut egui::Ui) {
        if self.mnist_grid(ui) {
            return;
        }
        let Some(run) = self.runs.first() else { return };
        let (Some(policy), Some(snap)) = (&run.feed.policy, &run.snapshot) else {
            ui.label("(no policy to show yet)");
            return;
        };
        let task = run.feed.task.clone();
        if task != "cartpole" && task != "pendulum" {
            ui.label(format!("(no live view for {task})"));
            return;
        }
        let sim = self.sim.get_or_insert_with(|| LiveSim {
            cart: CartPole::new(),
            pend: Pendulum::new(),
            obs: Vec::new(),
            episode: 0,
            steps: 0,
        });
        // One simulator step per frame with the current mean policy.
        let params = policy_params(policy, &run.feed.param_names);
        let env: &mut dyn Environment = if task == "cartpole" {
            &mut sim.cart
        } else {
            &mut sim.pend
        };
        if sim.obs.is_empty() {
            sim.obs = env.reset(Some(sim.episode));
        }
        let mut y = vec![0.0f32; *policy.sizes.last().expect("validated")];
        if let Some(p) = &params {
            plain_row_forward(policy, p, &snap.values, &sim.obs, &mut y);
        }
        let mut act = [0.0f32];
        let step = if task == "cartpole" {
            env.step(Action::Discrete(Head::argmax(&y)))
        } else {
            Head::scale(&[-2.0], &[2.0], &y, &mut act);
            env.step(Action::Continuous(&act))
        };
        sim.steps += 1;
        match step {
            Ok(s) if !(s.terminated || s.truncated) => sim.obs = s.observation,
            _ => {
                sim.episode += 1;
                sim.steps = 0;
                sim.obs = env.reset(Some(sim.episode));
            }
        }
        ui.label(format!(
            "generation {} — episode {} step {}",
            snap.generation, sim.episode, sim.steps
        ));
        let (resp, painter) = ui.allocate_painter(Vec2::new(340.0, 180.0), egui::Sense::hover());
        let r = resp.rect;
        painter.rect_filled(r, 4.0, Color32::from_gray(245));
        if task == "cartpole" {
            let [x, _, th, _] = sim.cart.state();
            let scale = r.width() as f64 / 4.8;
            let cx = r.center().x + (x * scale) as f32;
            let cy = r.bottom() - 40.0;
            painter.line_segment(
                [
                    Pos2::new(r.left(), cy + 12.0),
                    Pos2::new(r.right(), cy + 12.0),
                ],
                Stroke::new(1.0, Color32::GRAY),
            );
            painter.rect_filled(
                egui::Rect::from_center_size(Pos2::new(cx, cy), Vec2::new(50.0, 24.0)),
                3.0,
                Color32::from_rgb(60, 60, 60),
            );
            let len = (scale * 1.0) as f32;
            let tip = Pos2::new(cx + len * th.sin() as f32, cy - len * th.cos() as f32);
            painter.line_segment(
                [Pos2::new(cx, cy), tip],
                Stroke::new(6.0, Color32::from_rgb(204, 153, 102)),
            );
        } else {
            let [th, _] = sim.pend.state();
            let c = r.center();
            let len = r.height() * 0.4;
            let tip = Pos2::new(c.x + len * th.sin() as f32, c.y - len * th.cos() as f32);
            painter.line_segment([c, tip], Stroke::new(8.0, Color32::from_rgb(204, 77, 77)));
            painter.circle_filled(c, 4.0, Color32::BLACK);
        }
        ui.ctx().request_repaint_after(Duration::from_millis(20));
    }
}

/// Singular values of a row-major (m × n) matrix, largest first (eigenvalues of the smaller
/// Gram matrix by cyclic Jacobi; matrices up to 256 on the short side).
pub fn singular_values(a: &[f32], m: usize, n: usize) -> Vec<f64> {
    let k = m.min(n);
    if k == 0 || k > 256 {
        return Vec::new();
    }
    // G = AᵀA (n ≤ m) or AAᵀ, k × k.
    let mut g = vec![0.0f64; k * k];
    for i in 0..k {
        for j in i..k {
            let mut s = 0.0f64;
            if n <= m {
                for r in 0..m {
                    s += a[r * n + i] as f64 * a[r * n + j] as f64;
                }
            } else {
                for c in 0..n {
                    s += a[i * n + c] as f64 * a[j * n + c] as f64;
                }
            }
            g[i * k + j] = s;
            g[j * k + i] = s;
        }
    }
    for _sweep in 0..30 {
        let mut off = 0.0;
        for p in 0..k {
            for q in p + 1..k {
                off += g[p * k + q] * g[p * k + q];
            }
        }
        if off < 1e-24 {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = g[p * k + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (g[q * k + q] - g[p * k + p]) / (2.0 * apq);
                let sgn = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sgn / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (grp, grq) = (g[r * k + p], g[r * k + q]);
                    g[r * k + p] = c * grp - s * grq;
                    g[r * k + q] = s * grp + c * grq;
                }
                for r in 0..k {
                    let (gpr, gqr) = (g[p * k + r], g[q * k + r]);
                    g[p * k + r] = c * gpr - s * gqr;
                    g[q * k + r] = s * gpr + c * gqr;
                }
            }
        }
    }
    let mut sv: Vec<f64> = (0..k).map(|i| g[i * k + i].max(0.0).sqrt()).collect();
    sv.sort_by(|a, b| b.total_cmp(a));
    sv
}

fn heatmap(ui: &mut egui::Ui, title: &str, v: &[f32], m: usize, n: usize) {
    ui.vertical(|ui| {
        ui.small(title);
        let cell = (150.0 / m.max(n) as f32).clamp(1.0, 12.0);
        let (resp, painter) = ui.allocate_painter(
            Vec2::new(cell * n as f32, cell * m as f32),
            egui::Sense::hover(),
        );
        let max = v.iter().fold(0.0f32, |a, x| a.max(x.abs())).max(1e-30);
        for i in 0..m {
            for j in 0..n {
                let t = (v[i * n + j] / max).clamp(-1.0, 1.0);
                let c = if t >= 0.0 {
                    Color32::from_rgb(255, (255.0 * (1.0 - t)) as u8, (255.0 * (1.0 - t)) as u8)
                } else {
                    Color32::from_rgb((255.0 * (1.0 + t)) as u8, (255.0 * (1.0 + t)) as u8, 255)
                };
                let min = resp.rect.min + Vec2::new(j as f32 * cell, i as f32 * cell);
                painter.rect_filled(egui::Rect::from_min_size(min, Vec2::splat(cell)), 0.0, c);
            }
        }
    });
}

fn heatmap_gray(ui: &mut egui::Ui, img: &[f32], rows: usize, cols: usize) {
    let cell = 2.0;
    let (resp, painter) = ui.allocate_painter(
        Vec2::new(cell * cols as f32, cell * rows as f32),
        egui::Sense::hover(),
    );
    for r in 0..rows {
        for c in 0..cols {
            let g = (img[r * cols + c] * 255.0) as u8;
            let min = resp.rect.min + Vec2::new(c as f32 * cell, r as f32 * cell);
            painter.rect_filled(
                egui::Rect::from_min_size(min, Vec2::splat(cell)),
                0.0,
                Color32::from_gray(g),
            );
        }
    }
}

fn policy_params(policy: &MlpConfig, names: &[String]) -> Option<eggroll_core::Params> {
    // A parameter set with the run's names and shapes (values unused by plain_row_forward,
    // which reads the snapshot's host values by index).
    let mut p = eggroll_core::Params::new();
    for l in 0..policy.num_layers() {
        let (wn, bn) = MlpConfig::names(l);
        let (n, m) = (policy.sizes[l], policy.sizes[l + 1]);
        for name in names {
            if *name == wn {
                p.push(
                    wn.clone(),
                    candle_core::Tensor::zeros(
                        (m, n),
                        candle_core::DType::F32,
                        &candle_core::Device::Cpu,
                    )
                    .ok()?,
                )
                .ok()?;
            } else if *name == bn {
                p.push(
                    bn.clone(),
                    candle_core::Tensor::zeros(
                        m,
                        candle_core::DType::F32,
                        &candle_core::Device::Cpu,
                    )
                    .ok()?,
                )
                .ok()?;
            }
        }
    }
    Some(p)
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

/// Channels for a live run: an observer to add to the trainer, a snapshot sender, a command
/// receiver (for a [`Controller`]) and the matching dashboard feed.
pub struct LiveChannels {
    /// Statistics observer (bounded; drops when the UI is slow).
    pub observer: ChannelObserver,
    /// Snapshots of the mean parameters.
    pub snapshots: SnapshotSender,
    /// Commands from the dashboard.
    pub commands: Receiver<Command>,
}

/// Create the channels of a live run and its feed.
pub fn live_channels(
    label: impl Into<String>,
    task: impl Into<String>,
    policy: Option<MlpConfig>,
    param_names: Vec<String>,
    info: impl Into<String>,
    sigma: f32,
    lr: f32,
) -> (LiveChannels, RunFeed) {
    let (observer, stats) = ChannelObserver::new(4096);
    let (stx, srx) = sync_channel(1);
    let (ctx, crx) = std::sync::mpsc::channel();
    (
        LiveChannels {
            observer,
            snapshots: SnapshotSender(stx),
            commands: crx,
        },
        RunFeed {
            label: label.into(),
            task: task.into(),
            policy,
            param_names,
            info: info.into(),
            sigma,
            lr,
            stats,
            snapshots: Some(srx),
            commands: Some(ctx),
            noise: None,
            mnist: None,
            shaping: (eggroll_core::Shaping::ZScore, 0),
        },
    )
}

/// Run `trainer` on `evaluator` on a new thread, controlled from the dashboard, for at most
/// `max_generations` generations, through the run layer's `Session` (the loop every front end
/// uses) without a run directory.
pub fn spawn_run(
    trainer: Trainer,
    evaluator: Box<dyn Evaluator>,
    max_generations: u64,
    label: impl Into<String>,
    task: impl Into<String>,
    policy: Option<MlpConfig>,
    noise: Option<NoiseInfo>,
) -> (
    RunFeed,
    std::thread::JoinHandle<eggroll_run::Result<Trainer>>,
) {
    let names: Vec<String> = trainer
        .params()
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    let g = trainer.generation();
    let info = format!(
        "{} N={}",
        trainer.strategy().name(),
        trainer.strategy().population_size()
    );
    let (sigma, lr) = (
        trainer.strategy().sigma(g),
        trainer.strategy().learning_rate(g),
    );
    let (ch, mut feed) = live_channels(label, task, policy, names, info, sigma, lr);
    feed.noise = noise;
    let handle = std::thread::spawn(move || {
        // The same loop as every other front end: a run-layer Session (no files).
        let evaluator = Box::new(eggroll_run::task::Unscored(evaluator));
        let mut session = eggroll_run::Session::from_parts(trainer, evaluator, max_generations);
        session.add_observer(ch.observer);
        session.set_controller(Controller::new(ch.commands));
        let snapshots = ch.snapshots;
        session.on_snapshot(move |generation, values| {
            snapshots.offer(Snapshot { generation, values })
        });
        let (_, trainer) = session.run_and_keep()?;
        Ok(trainer)
    });
    (feed, handle)
}

/// A feed that replays `metrics.jsonl` and keeps tailing it (a run still in progress shows up
/// as it writes). Malformed lines are skipped; a torn last line is read once complete.
pub fn replay_feed(path: &Path) -> std::io::Result<RunFeed> {
    std::fs::metadata(path)?;
    let (tx, rx) = sync_channel::<GenStats>(1 << 16);
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let mut offset = 0usize;
        loop {
            if let Ok(text) = std::fs::read_to_string(&p) {
                let new = &text[offset.min(text.len())..];
                let complete = new.rfind('\n').map_or(0, |i| i + 1);
                for line in new[..complete].lines() {
                    if let Ok(s) = serde_json::from_str::<GenStats>(line)
                        && tx.send(s).is_err()
                    {
                        return;
                    }
                }
                offset += complete;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let label = path
        .parent()
        .and_then(|d| d.file_name())
        .map_or_else(|| "replay".to_string(), |n| n.to_string_lossy().to_string());
    Ok(RunFeed {
        label,
        task: "replay".into(),
        policy: None,
        param_names: Vec::new(),
        info: path.display().to_string(),
        sigma: 0.0,
        lr: 0.0,
        stats: rx,
        snapshots: None,
        commands: None,
        noise: None,
        mnist: None,
        shaping: (eggroll_core::Shaping::ZScore, 0),
    })
}
