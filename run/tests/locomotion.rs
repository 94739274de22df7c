//! The MuJoCo tasks' live views: each draws its posed model (finite shapes inside the view)
//! from a real observation. Skips without the library unless `EGGROLL_REQUIRE_MUJOCO=1`.

use eggroll_run::task::{Shape, find};

#[test]
fn every_mujoco_view_draws_the_posed_model() {
    if let Err(e) = eggroll_envs::mujoco::ffi::library() {
        let required = std::env::var("EGGROLL_REQUIRE_MUJOCO").is_ok_and(|v| v == "1");
        assert!(!required, "EGGROLL_REQUIRE_MUJOCO=1 but: {e}");
        eprintln!("skipping: {e}");
        return;
    }
    for (name, min_shapes) in [
        ("halfcheetah", 8),
        ("hopper", 4),
        ("walker2d", 7),
        ("ant", 9),
        ("swimmer", 3),
        ("humanoid", 10),
        ("inverted-pendulum", 2),
        ("inverted-double-pendulum", 3),
        ("reacher", 3),
    ] {
        let task = find(name).unwrap();
        task.ready().unwrap();
        let spec = task.control().unwrap();
        let mut env = (spec.env)(1);
        env.reset(7);
        let scene = (spec.view)(env.observations());
        assert!(
            scene.shapes.len() >= min_shapes,
            "{name}: {} shapes",
            scene.shapes.len()
        );
        let [x0, x1, y0, y1] = scene.bounds;
        assert!(x0 < x1 && y0 < y1, "{name}: bounds {:?}", scene.bounds);
        let inside = |p: [f32; 2]| {
            p.iter().all(|v| v.is_finite())
                && (x0 - 1e-3..=x1 + 1e-3).contains(&p[0])
                && (y0 - 1e-3..=y1 + 1e-3).contains(&p[1])
        };
        for s in &scene.shapes {
            let ok = match s {
                Shape::Line {
                    from, to, width, ..
                } => inside(*from) && inside(*to) && *width > 0.0,
                Shape::Rect { center, size, .. } => inside(*center) && size[0] >= 0.0,
                Shape::Circle { center, radius, .. } => inside(*center) && *radius > 0.0,
            };
            assert!(ok, "{name}: {s:?} outside {:?}", scene.bounds);
        }
        // A wrong-sized observation draws nothing instead of panicking.
        assert!((spec.view)(&[0.0; 3]).shapes.is_empty());
    }
}
