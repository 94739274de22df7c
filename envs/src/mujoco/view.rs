//! How the dashboard draws a MuJoCo environment: the model posed from an observation by
//! MuJoCo's kinematics ([`super::pose`]), projected from the side or from above.

use super::{Task, View};
use crate::scene::{Scene, Shape};

/// The posed model as the observation shows it, from the side (x, z) or from above (x, y):
/// capsules as thick segments, spheres as discs, boxes as rectangles, the floor as a line.
/// The observation leaves out the torso's x (and y), so the body stays centred.
pub(crate) fn view<T: Task>(obs: &[f32]) -> Scene {
    let Ok(geoms) = super::pose::<T>(obs) else {
        return Scene {
            bounds: [-1.0, 1.0, -1.0, 1.0],
            shapes: Vec::new(),
        };
    };
    let side = T::VIEW == View::Side;
    let proj = |p: [f64; 3]| -> [f32; 2] {
        if side {
            [p[0] as f32, p[2] as f32]
        } else {
            [p[0] as f32, p[1] as f32]
        }
    };
    let bodies: Vec<_> = geoms.iter().filter(|g| g.kind != 0).collect();
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for g in &bodies {
        let c = proj(g.pos);
        let r = g.size[0].max(g.size[1]) as f32;
        for k in 0..2 {
            lo[k] = lo[k].min(c[k] - r);
            hi[k] = hi[k].max(c[k] + r);
        }
    }
    if bodies.is_empty() {
        (lo, hi) = ([-1.0; 2], [1.0; 2]);
    }
    let half = ((hi[0] - lo[0]).max(hi[1] - lo[1]) / 2.0 * 1.2).max(0.2);
    let mid = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let bounds = [mid[0] - half, mid[0] + half, mid[1] - half, mid[1] + half];
    let px = 400.0 / (2.0 * half); // pixels per metre in a ~400-pixel view
    let color = |c: [f32; 4]| {
        [
            (c[0] * 255.0) as u8,
            (c[1] * 255.0) as u8,
            (c[2] * 255.0) as u8,
        ]
    };
    let mut shapes = Vec::new();
    if side && geoms.iter().any(|g| g.kind == 0) {
        shapes.push(Shape::Line {
            from: [bounds[0], 0.0],
            to: [bounds[1], 0.0],
            width: 2.0,
            color: [90, 90, 90],
        });
    }
    for g in bodies {
        let c = proj(g.pos);
        match g.kind {
            3 | 5 => {
                let a = proj([
                    g.pos[0] - g.axis[0] * g.size[1],
                    g.pos[1] - g.axis[1] * g.size[1],
                    g.pos[2] - g.axis[2] * g.size[1],
                ]);
                let b = proj([
                    g.pos[0] + g.axis[0] * g.size[1],
                    g.pos[1] + g.axis[1] * g.size[1],
                    g.pos[2] + g.axis[2] * g.size[1],
                ]);
                shapes.push(Shape::Line {
                    from: a,
                    to: b,
                    width: (2.0 * g.size[0] as f32 * px).max(2.0),
                    color: color(g.rgba),
                });
            }
            6 => shapes.push(Shape::Rect {
                center: c,
                size: [
                    2.0 * g.size[0] as f32,
                    2.0 * if side { g.size[2] } else { g.size[1] } as f32,
                ],
                color: color(g.rgba),
            }),
            _ => shapes.push(Shape::Circle {
                center: c,
                radius: (g.size[0] as f32 * px).max(3.0),
                color: color(g.rgba),
            }),
        }
    }
    Scene { bounds, shapes }
}
