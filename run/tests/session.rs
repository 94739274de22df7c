//! The one run loop: a task defined outside the registry runs through `Session` with a run
//! directory, resumes bit-identically, stops on an interrupt after saving, and a session over
//! caller-built parts writes nothing.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use candle_core::{DType, Device, Tensor};
use eggroll_core::{Eggroll, EsConfig, FnEvaluator, ParamView, Params, Trainer};
use eggroll_run::task::{Built, Task, Unscored};
use eggroll_run::{Options, Outcome, RunConfig, Session, Start};

/// −Σ (x − 0.5)² on 8 × 8.
struct Quadratic;

impl Task for Quadratic {
    fn name(&self) -> &'static str {
        "quadratic"
    }
    fn defaults(&self, c: &mut RunConfig) {
        c.stop.generations = 40;
        c.checkpoints.every = 10;
        c.evaluation.solved_at = -0.2; // from −16 at x = 0
        c.es.population_size = 64;
        c.es.sigma = 0.05;
        c.es.learning_rate = 0.05;
    }
    fn build(&self, _: &RunConfig) -> eggroll_run::Result<Built> {
        let params = Params::new().with("x", Tensor::zeros((8, 8), DType::F32, &Device::Cpu)?)?;
        Ok(Built {
            params,
            evaluator: Box::new(FnEvaluator::new(|p: &ParamView| {
                -p.values(0).iter().map(|x| (x - 0.5).powi(2)).sum::<f32>()
            })),
            images: None,
            net: None,
        })
    }
}

fn new_run(out: &Path, generations: u64) -> Start {
    Start::New {
        task: "quadratic".into(),
        file: None,
        sets: vec![],
        overrides: vec![("stop.generations", toml::Value::Integer(generations as i64))],
        out: Some(out.to_path_buf()),
        force: false,
    }
}

/// The tests here run one at a time: `budget_schedules_follow_the_run` measures its own pace,
/// and a test running beside it on a 2-core machine would change that pace mid-run.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn finished(outcome: Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Finished(r) => r.json,
        _ => panic!("the run did not finish"),
    }
}

#[test]
fn a_custom_task_runs_resumes_bit_identically_and_stops_on_interrupt() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let j = finished(
        Session::start_with(&Quadratic, new_run(&a, 40), Options::default())
            .unwrap()
            .run()
            .unwrap(),
    );
    assert_eq!(
        (j["task"].as_str(), j["generations"].as_u64()),
        (Some("quadratic"), Some(40))
    );
    assert_eq!(j["solved"], true, "{j}");
    for f in [
        "config.toml",
        "metrics.jsonl",
        "checkpoint.safetensors",
        "policy.safetensors",
        "fitness.png",
    ] {
        assert!(a.join(f).exists(), "{f}");
    }
    // 20 generations, then resume to 40: the same policy bytes as the uninterrupted run.
    finished(
        Session::start_with(&Quadratic, new_run(&b, 20), Options::default())
            .unwrap()
            .run()
            .unwrap(),
    );
    let resume = Start::Resume {
        dir: b.clone(),
        task: None,
        overrides: vec![("stop.generations", toml::Value::Integer(40))],
    };
    finished(
        Session::start_with(&Quadratic, resume, Options::default())
            .unwrap()
            .run()
            .unwrap(),
    );
    assert_eq!(
        std::fs::read(a.join("policy.safetensors")).unwrap(),
        std::fs::read(b.join("policy.safetensors")).unwrap()
    );
    // An interrupt: one generation, everything saved, no final evaluation.
    let options = Options {
        interrupt: Arc::new(AtomicBool::new(true)),
        ..Options::default()
    };
    match Session::start_with(&Quadratic, new_run(&c, 40), options)
        .unwrap()
        .run()
        .unwrap()
    {
        Outcome::Interrupted { generation, dir } => {
            assert_eq!((generation, dir), (1, c.clone()));
        }
        _ => panic!("not interrupted"),
    }
    assert!(c.join("policy.safetensors").exists() && c.join("checkpoint.safetensors").exists());
    // Resume refuses keys that would change the fitness, naming them.
    let refused = Start::Resume {
        dir: c,
        task: None,
        overrides: vec![("episodes", toml::Value::Integer(3))],
    };
    let err = Session::start_with(&Quadratic, refused, Options::default())
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("`evaluation.episodes` (--episodes)"),
        "{err}"
    );
}

#[test]
fn a_session_over_parts_writes_nothing_and_returns_the_trainer() {
    let _serial = one_at_a_time();
    let params = Params::new()
        .with(
            "x",
            Tensor::zeros((4, 4), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap();
    let es = EsConfig {
        population_size: 16,
        ..EsConfig::default()
    };
    let trainer = Trainer::new(Eggroll::new(es, &params).unwrap(), params);
    let eval = FnEvaluator::new(|p: &ParamView| -p.values(0).iter().map(|x| x * x).sum::<f32>());
    let session = Session::from_parts(trainer, Box::new(Unscored(Box::new(eval))), 7);
    assert_eq!(
        session.dir(),
        Path::new(""),
        "a session over parts has no run directory"
    );
    let (outcome, trainer) = session.run_and_keep().unwrap();
    assert_eq!(trainer.generation(), 7);
    let Outcome::Finished(report) = outcome else {
        panic!("did not finish")
    };
    // Its report names no directory and no config it does not have.
    for key in ["out", "seed", "rank", "solved"] {
        assert!(report.json[key].is_null(), "{key}: {}", report.json);
    }
    assert_eq!(report.json["population"], 16);
    assert_eq!(report.json["generations"], 7);
}

/// The flat keys of earlier versions (`generations`, `eval_every`, `checkpoint_every`, …) still
/// load, as the sectioned keys they became, from files (old run directories resume) and `--set`.
#[test]
fn legacy_flat_keys_read_as_their_sections() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old.toml");
    std::fs::write(
        &old,
        "task = \"cartpole\"\ngenerations = 7\neval_every = 3\ncheckpoint_every = 2\nbatch = 64\n",
    )
    .unwrap();
    let new = tmp.path().join("new.toml");
    std::fs::write(
        &new,
        "task = \"cartpole\"\n[stop]\ngenerations = 7\n[evaluation]\neval_every = 3\n\
         [checkpoints]\nevery = 2\n[data]\nbatch = 64\n",
    )
    .unwrap();
    let a = eggroll_run::resolve("cartpole", Some(&old), &[], &[]).unwrap();
    let b = eggroll_run::resolve("cartpole", Some(&new), &[], &[]).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        (
            a.stop.generations,
            a.evaluation.eval_every,
            a.checkpoints.every,
            a.data.batch
        ),
        (7, 3, 2, 64)
    );
    let c = eggroll_run::resolve("cartpole", None, &["solved_at=1.5".into()], &[]).unwrap();
    assert_eq!(c.evaluation.solved_at, 1.5);
    // The saved config is sectioned.
    let text = toml::to_string_pretty(&a).unwrap();
    assert!(
        text.contains("[stop]")
            && text.contains("[evaluation]")
            && !text.starts_with("generations")
    );
}

/// A model the user picks starts from its own tuned defaults (`train mnist --model cnn` is
/// the 10-minute CNN run, not the MLP's N = 512 for 2,000 generations); the user's own
/// settings still win, from any layer; the task's default model keeps the task's defaults.
#[test]
fn each_model_starts_from_its_own_defaults() {
    let _serial = one_at_a_time();
    let cnn = toml::Value::String("cnn".into());
    let c = eggroll_run::resolve("mnist", None, &[], &[("policy.model", cnn.clone())]).unwrap();
    assert_eq!(
        (c.es.population_size, c.data.batch, c.stop.time_budget_s),
        (256, 32, Some(600.0))
    );
    assert_eq!(
        c.es.lr_schedule,
        eggroll_core::Schedule::Budget { floor: 0.1 }
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cnn.toml");
    std::fs::write(&file, "task = \"mnist\"\n[policy]\nmodel = \"cnn\"\n").unwrap();
    assert_eq!(
        eggroll_run::resolve("mnist", Some(&file), &[], &[]).unwrap(),
        c
    );
    let set = eggroll_run::resolve(
        "mnist",
        None,
        &["es.population_size=64".into(), "policy.model=cnn".into()],
        &[],
    )
    .unwrap();
    assert_eq!((set.es.population_size, set.data.batch), (64, 32));
    let mlp = eggroll_run::resolve("mnist", None, &[], &[]).unwrap();
    assert_eq!((mlp.es.population_size, mlp.stop.generations), (512, 2000));
    // charlm's two models share the tuned 10-minute settings.
    let m = toml::Value::String("mingru".into());
    let g = eggroll_run::resolve("charlm", None, &[], &[("policy.model", m)]).unwrap();
    let t = eggroll_run::resolve("charlm", None, &[], &[]).unwrap();
    assert_eq!(
        (g.es.population_size, g.data.batch, g.stop.time_budget_s),
        (512, 4, Some(600.0))
    );
    assert_eq!(
        (g.es.learning_rate, g.es.lr_schedule),
        (t.es.learning_rate, t.es.lr_schedule)
    );
}

/// A budget schedule decays over the generations the run gets: `stop.generations` without a
/// time budget; with one, the generations that fit (paced after the first generation, over ≥ 5 % of it), reported
/// as `schedule_horizon`, kept in the checkpoint, and the learning rate ends near its floor.
#[test]
fn budget_schedules_follow_the_run() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let budget = |extra: Vec<(&'static str, toml::Value)>, out: &Path| {
        let mut overrides = vec![
            ("es.lr_schedule.kind", toml::Value::String("budget".into())),
            ("es.lr_schedule.floor", toml::Value::Float(0.1)),
        ];
        overrides.extend(extra);
        Start::New {
            task: "quadratic".into(),
            file: None,
            sets: vec![],
            overrides,
            out: Some(out.to_path_buf()),
            force: false,
        }
    };
    let j = finished(
        Session::start_with(
            &Quadratic,
            budget(vec![], &tmp.path().join("g")),
            Options::default(),
        )
        .unwrap()
        .run()
        .unwrap(),
    );
    assert_eq!(j["schedule_horizon"], 40, "{j}");
    let metrics = std::fs::read_to_string(tmp.path().join("g/metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    let lr = last["lr"].as_f64().unwrap();
    assert!(
        (lr - 0.05 * (0.1 + 0.9 / 40.0)).abs() < 1e-6,
        "last lr {lr}"
    );
    // A 1.5 s budget: the horizon is the generations that fit, measured over its first 5 %
    // (75 ms: many scheduler time slices, so a busy machine slows the measure and the rest alike).
    let session = Session::start_with(
        &Quadratic,
        budget(
            vec![
                ("stop.generations", toml::Value::Integer(100_000_000)),
                ("stop.time_budget_s", toml::Value::Float(1.5)),
                ("checkpoints.every", toml::Value::Integer(0)),
            ],
            &tmp.path().join("t"),
        ),
        Options::default(),
    )
    .unwrap();
    let (outcome, trainer) = session.run_and_keep().unwrap();
    let j = finished(outcome);
    let horizon = j["schedule_horizon"].as_u64().expect("a horizon");
    let ran = j["generations"].as_u64().unwrap();
    assert_eq!(trainer.strategy().horizon(), Some(horizon));
    eprintln!("{ran} generations against a horizon of {horizon}");
    assert!(
        ran as f64 > 0.4 * horizon as f64 && (ran as f64) < 2.5 * horizon as f64,
        "{ran} generations against a horizon of {horizon}"
    );
}

#[test]
fn zero_output_init_starts_the_policy_at_the_middle_of_the_action_box() {
    let _serial = one_at_a_time();
    let config = eggroll_run::resolve(
        "pendulum",
        None,
        &["policy.init=\"zero_output\"".into()],
        &[],
    )
    .unwrap();
    let built = eggroll_run::task::find("pendulum")
        .unwrap()
        .build(&config)
        .unwrap();
    let values = built.params.to_host().unwrap();
    // Pendulum's MLP 3-32-32-1 with biases: the last weight and bias are zero, the rest not.
    assert_eq!(values.len(), 6);
    assert!(values[4..].iter().all(|v| v.iter().all(|&x| x == 0.0)));
    assert!(values[..4].iter().all(|v| v.iter().any(|&x| x != 0.0)));
    let uniform = eggroll_run::resolve("pendulum", None, &[], &[]).unwrap();
    let plain = eggroll_run::task::find("pendulum")
        .unwrap()
        .build(&uniform)
        .unwrap();
    assert_eq!(plain.params.to_host().unwrap()[..4], values[..4]);
    let err = eggroll_run::resolve("pendulum", None, &["policy.init=\"zeros\"".into()], &[])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("policy.init"), "{err}");
}
