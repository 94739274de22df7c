//! Small drawing helpers shared by the panels: heatmaps and a parameter layout for
//! `plain_row_forward`.

use eggroll_policies::MlpConfig;
use egui::{Color32, Vec2};

/// A diverging heatmap of a row-major `m × n` matrix scaled to a fixed box whatever its aspect
/// (a 64 × 3 layer gets wide cells, not a sliver), with a colour scale from −max to +max.
pub(crate) fn heatmap(ui: &mut egui::Ui, title: &str, v: &[f32], m: usize, n: usize) {
    const BOX: f32 = 110.0;
    let color = |t: f32| {
        let t = t.clamp(-1.0, 1.0);
        let f = |x: f32| (255.0 * x) as u8;
        if t >= 0.0 {
            Color32::from_rgb(255, f(1.0 - t), f(1.0 - t))
        } else {
            Color32::from_rgb(f(1.0 + t), f(1.0 + t), 255)
        }
    };
    ui.vertical(|ui| {
        ui.small(format!("{title} ({m}×{n})"));
        let (resp, painter) = ui.allocate_painter(Vec2::splat(BOX), egui::Sense::hover());
        let (cw, ch) = (BOX / n.max(1) as f32, BOX / m.max(1) as f32);
        let max = v.iter().fold(0.0f32, |a, x| a.max(x.abs())).max(1e-30);
        for i in 0..m {
            for j in 0..n {
                let min = resp.rect.min + Vec2::new(j as f32 * cw, i as f32 * ch);
                painter.rect_filled(
                    egui::Rect::from_min_size(min, Vec2::new(cw, ch)),
                    0.0,
                    color(v[i * n + j] / max),
                );
            }
        }
        // The colour scale: −max … 0 … +max.
        let (resp, painter) = ui.allocate_painter(Vec2::new(BOX, 8.0), egui::Sense::hover());
        let steps = 30;
        for k in 0..steps {
            let t = -1.0 + 2.0 * (k as f32 + 0.5) / steps as f32;
            let min = resp.rect.min + Vec2::new(k as f32 * BOX / steps as f32, 0.0);
            painter.rect_filled(
                egui::Rect::from_min_size(min, Vec2::new(BOX / steps as f32 + 0.5, 8.0)),
                0.0,
                color(t),
            );
        }
        ui.horizontal(|ui| {
            ui.small(format!("−{max:.2e}"));
            ui.add_space((BOX - 110.0).max(4.0));
            ui.small(format!("+{max:.2e}"));
        });
    });
}

pub(crate) fn heatmap_gray(ui: &mut egui::Ui, img: &[f32], rows: usize, cols: usize) {
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

pub(crate) fn policy_params(policy: &MlpConfig, names: &[String]) -> Option<eggroll_core::Params> {
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
