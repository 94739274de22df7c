//! The live view: the task's environment driven by the current mean policy, drawn from the
//! task's own view (or the MNIST prediction grid).

use std::time::Duration;

use eggroll_envs::vec::Actions;
use eggroll_policies::{Head, plain_row_forward};
use eggroll_run::task::{Scene, Shape};
use egui::{Color32, Pos2, Stroke, Vec2};

use crate::app::Dashboard;
use crate::sim::LiveSim;
use crate::widgets::{heatmap_gray, policy_params};

/// The MNIST grid's 16 test images (their indices) and the mean policy's predictions, from
/// `values` (a snapshot): through the MLP (`feed.policy`) or the layered network (`feed.net`,
/// `--model cnn`). None when the feed has no images or no network to run.
pub fn grid_predictions(feed: &crate::RunFeed, values: &[Vec<f32>]) -> Option<Vec<(usize, i64)>> {
    let data = feed.mnist.as_ref()?;
    let idx: Vec<usize> = (0..16).map(|k| (k * 613) % data.len()).collect();
    let mut img = vec![0.0f32; data.pixels()];
    if let Some(policy) = &feed.policy {
        let params = policy_params(policy, &feed.param_names)?;
        let mut y = vec![0.0f32; 10];
        return Some(
            idx.iter()
                .map(|&i| {
                    data.image_into(i, &mut img);
                    plain_row_forward(policy, &params, values, &img, &mut y);
                    (i, Head::argmax(&y))
                })
                .collect(),
        );
    }
    let net = feed.net.as_ref()?;
    let mut params = eggroll_core::Params::new();
    for (d, v) in net.decls().iter().zip(values) {
        let t = candle_core::Tensor::from_slice(v, d.shape.as_slice(), &candle_core::Device::Cpu)
            .ok()?;
        params.push(d.name.clone(), t).ok()?;
    }
    let mut x = Vec::with_capacity(idx.len() * data.pixels());
    for &i in &idx {
        data.image_into(i, &mut img);
        x.extend_from_slice(&img);
    }
    let y = net.forward(&params, None, &x, None).ok()?;
    Some(
        idx.iter()
            .zip(y.chunks(10))
            .map(|(&i, y)| (i, Head::argmax(y)))
            .collect(),
    )
}

impl Dashboard {
    pub(crate) fn mnist_grid(&self, ui: &mut egui::Ui) -> bool {
        let Some(run) = self.runs.first() else {
            return false;
        };
        let (Some(data), Some(snap)) = (&run.feed.mnist, &run.snapshot) else {
            return false;
        };
        let Some(preds) = grid_predictions(&run.feed, &snap.values) else {
            return false;
        };
        let mut img = vec![0.0f32; data.pixels()];
        egui::Grid::new("mnist").show(ui, |ui| {
            for (k, &(i, pred)) in preds.iter().enumerate() {
                data.image_into(i, &mut img);
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

    pub(crate) fn live_view(&mut self, ui: &mut egui::Ui) {
        if self.mnist_grid(ui) {
            return;
        }
        let Some(run) = self.runs.first() else { return };
        let (Some(policy), Some(snap)) = (&run.feed.policy, &run.snapshot) else {
            ui.label("(no policy to show yet)");
            return;
        };
        // The task's own environment, action head and view (see eggroll_run::task).
        let Some(spec) = eggroll_run::task::find(&run.feed.task)
            .ok()
            .and_then(|t| t.control())
        else {
            ui.label(format!("(no live view for {})", run.feed.task));
            return;
        };
        let params = policy_params(policy, &run.feed.param_names);
        let sim = self.sim.get_or_insert_with(|| LiveSim {
            env: (spec.env)(1),
            episode: 0,
            steps: 0,
            started: false,
        });
        if !sim.started {
            sim.env.reset(sim.episode);
            sim.started = true;
        }
        // One simulator step per frame with the current mean policy.
        let mut obs = sim.env.observations().to_vec();
        if let Some(t) = &snap.obs {
            t.apply(&mut obs);
        }
        let mut y = vec![0.0f32; *policy.sizes.last().expect("validated")];
        if let Some(p) = &params {
            plain_row_forward(policy, p, &snap.values, &obs, &mut y);
        }
        let stepped = match &spec.head {
            Head::TanhScaled { low, high } => {
                let mut act = vec![0.0f32; low.len()];
                Head::scale(low, high, &y, &mut act);
                sim.env.step(Actions::Continuous(&act))
            }
            _ => sim.env.step(Actions::Discrete(&[Head::argmax(&y)])),
        };
        sim.steps += 1;
        if stepped.is_err() || sim.env.all_done() {
            sim.episode += 1;
            sim.steps = 0;
            sim.env.reset(sim.episode);
        }
        ui.label(format!(
            "generation {} — episode {} step {}",
            snap.generation, sim.episode, sim.steps
        ));
        let scene = (spec.view)(sim.env.observations());
        let (resp, painter) = ui.allocate_painter(Vec2::new(340.0, 150.0), egui::Sense::hover());
        draw_scene(&painter, resp.rect, &scene);
        ui.ctx().request_repaint_after(Duration::from_millis(20));
    }
}

/// Draw `scene` into `rect`, mapping its world bounds (y up) onto the rectangle with one scale
/// for both axes.
fn draw_scene(painter: &egui::Painter, rect: egui::Rect, scene: &Scene) {
    painter.rect_filled(rect, 4.0, Color32::from_gray(245));
    let [x0, x1, y0, y1] = scene.bounds;
    let scale = (rect.width() / (x1 - x0)).min(rect.height() / (y1 - y0));
    let center = rect.center();
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let at = |p: [f32; 2]| {
        Pos2::new(
            center.x + (p[0] - cx) * scale,
            center.y - (p[1] - cy) * scale,
        )
    };
    let rgb = |c: [u8; 3]| Color32::from_rgb(c[0], c[1], c[2]);
    for shape in &scene.shapes {
        match *shape {
            Shape::Line {
                from,
                to,
                width,
                color,
            } => {
                painter.line_segment([at(from), at(to)], Stroke::new(width, rgb(color)));
            }
            Shape::Rect {
                center,
                size,
                color,
            } => {
                let r = egui::Rect::from_center_size(
                    at(center),
                    Vec2::new(size[0] * scale, size[1] * scale),
                );
                painter.rect_filled(r, 3.0, rgb(color));
            }
            Shape::Circle {
                center,
                radius,
                color,
            } => {
                painter.circle_filled(at(center), radius, rgb(color));
            }
        }
    }
}
