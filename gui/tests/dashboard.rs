//! The dashboard driven headless with egui_kittest over real training threads.

use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use eggroll_core::*;
use eggroll_gui::{Dashboard, spawn_run};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn sphere_run(
    rank: usize,
    label: &str,
) -> (
    eggroll_gui::RunFeed,
    std::thread::JoinHandle<eggroll_run::Result<Trainer>>,
) {
    let params = Params::new()
        .with(
            "w",
            Tensor::zeros((64, 64), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap();
    let cfg = EsConfig {
        population_size: 256,
        rank,
        sigma: 0.05,
        learning_rate: 0.02,
        ..EsConfig::default()
    };
    let trainer = Trainer::new(Eggroll::new(cfg, &params).unwrap(), params);
    let eval = FnEvaluator::new(|p: &ParamView| {
        -p.values(0).iter().map(|x| (x - 0.5).powi(2)).sum::<f32>()
    });
    spawn_run(
        trainer,
        Box::new(eval),
        1_000_000,
        label,
        "sphere",
        None,
        None,
    )
}

fn harness(d: Dashboard) -> Harness<'static, Dashboard> {
    Harness::builder()
        .with_size(egui::Vec2::new(1280.0, 800.0))
        .build_ui_state(|ui, d: &mut Dashboard| d.ui(ui), d)
}

fn wait_until(h: &mut Harness<'_, Dashboard>, what: &str, f: impl Fn(&Dashboard) -> bool) {
    let t = Instant::now();
    while !f(h.state()) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

#[test]
fn pause_stops_the_generation_counter_and_resume_restarts_it() {
    let (feed, handle) = sphere_run(1, "run");
    let mut h = harness(Dashboard::new(vec![feed]));
    wait_until(&mut h, "3 generations", |d| d.generations(0) >= 3);
    h.get_by_label("Pause").click();
    h.step();
    std::thread::sleep(Duration::from_millis(300)); // the generation in flight finishes
    h.step();
    let g1 = h.state().generations(0);
    std::thread::sleep(Duration::from_millis(500));
    h.step();
    assert_eq!(h.state().generations(0), g1, "paused training kept running");
    // Single step: exactly one more generation.
    h.get_by_label("Step").click();
    h.step();
    wait_until(&mut h, "one step", |d| d.generations(0) > g1);
    std::thread::sleep(Duration::from_millis(300));
    h.step();
    assert_eq!(h.state().generations(0), g1 + 1);
    h.get_by_label("Resume").click();
    h.step();
    wait_until(&mut h, "resumed training", |d| d.generations(0) > g1 + 5);
    h.get_by_label("Stop").click();
    h.step();
    let t = handle.join().unwrap().unwrap();
    assert!(t.generation() as usize > g1 + 5);
}

/// The σ and learning-rate controls reach the trainer: later generations report the new
/// values in their statistics (measured trainer-side, not from the UI state).
#[test]
fn sigma_and_lr_changes_reach_the_trainer() {
    let (feed, handle) = sphere_run(1, "run");
    let mut h = harness(Dashboard::new(vec![feed]));
    wait_until(&mut h, "2 generations", |d| d.generations(0) >= 2);
    // What the σ / lr sliders call when dragged.
    h.state_mut().send(0, Command::SetSigma(0.37));
    h.state_mut().send(0, Command::SetLearningRate(0.011));
    h.step();
    wait_until(&mut h, "σ = 0.37 in the statistics", |d| {
        d.runs[0]
            .history
            .last()
            .is_some_and(|s| s.sigma == 0.37 && s.lr == 0.011)
    });
    h.get_by_label("Stop").click();
    h.step();
    handle.join().unwrap().unwrap();
}

fn stats_line(g: u64) -> String {
    format!(
        r#"{{"generation":{g},"mean":{m},"min":{lo},"max":{hi},"std":0.1,"best_ever":{hi},"sigma":0.1,"lr":0.01,"update_norm":0.5,"nonfinite":0,"evals":{e},"evals_per_s":1000.0,"gen_s":0.01,"wall_s":{w}}}"#,
        m = g as f32 * 0.5,
        lo = g as f32 * 0.5 - 1.0,
        hi = g as f32 * 0.5 + 1.0,
        e = (g + 1) * 64,
        w = (g + 1) as f64 * 0.01
    )
}

/// Replaying a fixture metrics file shows one point per line, and tailing picks up lines the
/// run appends later.
#[test]
fn replay_shows_every_line_and_tails_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let path = run.join("metrics.jsonl");
    let text: String = (0..37).map(|g| stats_line(g) + "\n").collect();
    std::fs::write(&path, text).unwrap();
    let mut h = harness(Dashboard::new(vec![
        eggroll_gui::replay_feed(&path).unwrap(),
    ]));
    wait_until(&mut h, "37 points", |d| d.generations(0) == 37);
    h.get_by_label("run: 37 generations");
    // A still-running run appends three lines (the last one torn at first).
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    write!(f, "{}\n{}\n", stats_line(37), stats_line(38)).unwrap();
    let last = stats_line(39);
    write!(f, "{}", &last[..20]).unwrap();
    f.flush().unwrap();
    wait_until(&mut h, "39 points", |d| d.generations(0) == 39);
    writeln!(f, "{}", &last[20..]).unwrap();
    wait_until(&mut h, "40 points", |d| d.generations(0) == 40);
    h.get_by_label("run: 40 generations");
    assert!(eggroll_gui::replay_feed(&dir.path().join("missing.jsonl")).is_err());
}

/// Compare mode overlays one run per rank, each receiving its own statistics.
#[test]
fn compare_mode_runs_one_trainer_per_rank() {
    let runs: Vec<_> = [1, 4, 16]
        .iter()
        .map(|&r| sphere_run(r, &format!("rank {r}")))
        .collect();
    let (feeds, handles): (Vec<_>, Vec<_>) = runs.into_iter().unzip();
    let mut h = harness(Dashboard::new(feeds));
    assert_eq!(h.state().runs.len(), 3);
    wait_until(&mut h, "every run reporting", |d| {
        (0..3).all(|i| d.generations(i) >= 2)
    });
    for (i, r) in [1, 4, 16].iter().enumerate() {
        let label = &h.state().runs[i].feed.label;
        assert_eq!(label, &format!("rank {r}"));
    }
    for b in h.get_all_by_label("Stop") {
        b.click();
    }
    h.step();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
}

/// Singular values of a known matrix: diag(3, 2, 0.5) embedded in 5×3, rotated.
#[test]
fn singular_values_of_a_known_matrix() {
    let (m, n) = (5, 3);
    // U (5×3 orthonormal columns) · diag(3, 2, 0.5), then a rotation in the column space.
    let mut a = vec![0.0f32; m * n];
    let d = [3.0f32, 2.0, 0.5];
    let (c, s) = (0.6f32, 0.8f32);
    for i in 0..3 {
        a[i * n + i] = d[i];
    }
    // Rotate columns 0 and 1 (orthogonal): singular values unchanged.
    for r in 0..m {
        let (x, y) = (a[r * n], a[r * n + 1]);
        a[r * n] = c * x - s * y;
        a[r * n + 1] = s * x + c * y;
    }
    let sv = eggroll_gui::singular_values(&a, m, n);
    assert_eq!(sv.len(), 3, "{sv:?}");
    for (got, want) in sv.iter().zip([3.0, 2.0, 0.5]) {
        assert!((got - want).abs() < 1e-5, "{sv:?}");
    }
    // A rank-2 update has one (numerically) zero singular value.
    let b: Vec<f32> = (0..12)
        .map(|i| ((i / 4) as f32 + 1.0) * ((i % 4) as f32 - 1.5))
        .collect();
    let sv = eggroll_gui::singular_values(&b, 3, 4);
    assert_eq!(sv.len(), 3, "{sv:?}");
    assert!(sv[0] > 1.0 && sv[1] < 1e-3 * sv[0], "{sv:?}");
}

/// The shaped-weights panel uses the run's own shaping: centered ranks stay in [−0.5, 0.5]
/// and equal `shape(.., CenteredRank, ..)`, not the z-scores it used to plot for every run.
#[test]
fn shaped_weights_panel_uses_the_runs_shaping() {
    let (mut feed, handle) = sphere_run(1, "ranks");
    feed.shaping = (Shaping::CenteredRank, 0);
    let mut h = harness(Dashboard::new(vec![feed]));
    wait_until(&mut h, "per-member fitness", |d| {
        d.shaped_weights().is_some()
    });
    let d = h.state();
    let f = &d.runs[0].history.last().unwrap().fitness;
    let w = d.shaped_weights().unwrap();
    assert_eq!(w, shaping::shape(f, Shaping::CenteredRank, 0));
    assert!(w.iter().all(|x| (-0.5..=0.5).contains(x)), "{w:?}");
    assert_ne!(w, shaping::shape(f, Shaping::ZScore, 0));
    h.state_mut().send(0, Command::Stop);
    drop(h);
    handle.join().unwrap().unwrap();
}

/// A compared run's error shows in the window as soon as it arrives, while the others train.
#[test]
fn run_errors_show_in_the_window_at_once() {
    let (feed, handle) = sphere_run(1, "ok");
    let (tx, rx) = std::sync::mpsc::channel();
    let mut h = harness(Dashboard::new(vec![feed]).with_errors(rx));
    h.step();
    tx.send((
        "σ -1".to_string(),
        "invalid config: `sigma` is -1".to_string(),
    ))
    .unwrap();
    h.step();
    h.get_by_label_contains("run σ -1 failed: invalid config: `sigma` is -1");
    assert_eq!(h.state().errors.len(), 1);
    h.state_mut().send(0, Command::Stop);
    drop(h);
    handle.join().unwrap().unwrap();
}

/// The live view comes from the task's own definition (environment, head and view in
/// eggroll-run's registry): a CartPole feed shows a running episode, a task without an
/// environment says so.
#[test]
fn live_view_is_driven_by_the_tasks_view() {
    use eggroll_policies::{Activation, MlpConfig};
    for (task, expect) in [
        ("cartpole", "episode 0 step"),
        ("sphere", "(no live view for sphere)"),
    ] {
        let policy = MlpConfig {
            sizes: vec![4, 8, 2],
            activation: Activation::Tanh,
            bias: true,
        };
        let params = policy.init(0, &Device::Cpu).unwrap();
        let names: Vec<String> = params.iter().map(|p| p.name().to_string()).collect();
        let (ch, feed) =
            eggroll_gui::live_channels("run", task, Some(policy), names, "info", 0.1, 0.1);
        ch.snapshots.offer(eggroll_gui::Snapshot {
            generation: 1,
            values: params.to_host().unwrap(),
            obs: None,
        });
        let mut h = harness(Dashboard::new(vec![feed]));
        for _ in 0..3 {
            h.step();
        }
        h.get_by_label_contains(expect);
    }
}

/// `eggroll dashboard --replay <compare dir>`: one run per (model, method) pair, one point per
/// test evaluation, accuracy as the fitness, overlaid.
#[test]
fn compare_directories_replay_every_pair() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        r#"{"model":"mlp","method":"eggroll","objective":"log_likelihood","params":10,"test_accuracy":0.9,"wall_s":2.0,"forward_passes":100,"member_evals":10,"steps":5,"curve":[[0.0,0,0.1],[1.0,50,0.6],[2.0,100,0.9]],"error":null}"#,
        r#"{"model":"mlp","method":"adam","objective":"cross_entropy","params":10,"test_accuracy":0.95,"wall_s":2.0,"forward_passes":64,"member_evals":0,"steps":1,"curve":[[0.0,0,0.1],[2.0,64,0.95]],"error":null}"#,
        r#"{"model":"cnn","method":"eggroll","objective":"","params":0,"test_accuracy":null,"wall_s":0.0,"forward_passes":0,"member_evals":0,"steps":0,"curve":[],"error":"out of memory"}"#,
    ];
    std::fs::write(dir.path().join("results.jsonl"), rows.join("\n") + "\n").unwrap();
    let feeds = eggroll_gui::compare_feeds(dir.path()).unwrap();
    assert_eq!(feeds.len(), 3);
    assert_eq!(feeds[0].label, "mlp eggroll");
    assert!(feeds[2].info.contains("out of memory"));
    let mut h = harness(Dashboard::new(feeds));
    wait_until(&mut h, "every point", |d| {
        d.generations(0) == 3 && d.generations(1) == 2 && d.generations(2) == 0
    });
    assert!(eggroll_gui::compare_feeds(&dir.path().join("missing")).is_err());
}

/// A `--model cnn` run's live view is the MNIST prediction grid, through the layered network:
/// 16 test images, each predicted as the CNN's plain forward of the snapshot predicts it.
#[test]
fn mnist_grid_shows_cnn_predictions() {
    let model = eggroll_policies::mnist::cnn(28, 28, &[4]).unwrap();
    let params = model.init(3, &Device::Cpu).unwrap();
    let names: Vec<String> = params.iter().map(|p| p.name().to_string()).collect();
    let n = 40;
    let images: Vec<u8> = (0..n * 784)
        .map(|i| ((i * 31 + i / 784 * 7) % 256) as u8)
        .collect();
    let data = std::sync::Arc::new(eggroll_envs::mnist::Dataset {
        images,
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        rows: 28,
        cols: 28,
    });
    let (ch, mut feed) = eggroll_gui::live_channels("cnn", "mnist", None, names, "info", 0.1, 0.1);
    feed.mnist = Some(data.clone());
    feed.net = Some(std::sync::Arc::new(
        eggroll_policies::mnist::cnn(28, 28, &[4]).unwrap(),
    ));
    let values = params.to_host().unwrap();
    let preds = eggroll_gui::grid_predictions(&feed, &values).expect("a grid for a CNN run");
    assert_eq!(preds.len(), 16);
    let mut img = vec![0.0f32; 784];
    for &(i, pred) in &preds {
        data.image_into(i, &mut img);
        let y = model.forward(&params, None, &img, None).unwrap();
        assert_eq!(pred, eggroll_policies::Head::argmax(&y), "image {i}");
    }
    ch.snapshots.offer(eggroll_gui::Snapshot {
        generation: 1,
        values,
        obs: None,
    });
    let mut h = harness(Dashboard::new(vec![feed]));
    for _ in 0..3 {
        h.step();
    }
    // The grid replaced the "(no live view …)" line and shows the first prediction.
    assert!(h.query_by_label_contains("no live view").is_none());
    h.get_all_by_label(&format!("{}", preds[0].1))
        .next()
        .unwrap();
}
