//! Step-for-step parity with trajectories recorded from Gymnasium 1.4, vendored in
//! `envs/tests/data/parity/` (regenerate with `envs/tests/data/tools/gen_parity*.py`).
//!
//! `EGGROLL_PARITY_DIR`, when set, overrides that folder. A missing folder or file FAILS these
//! tests (they never skip).
//!
//! No tolerances: observations equal as f32 bit patterns, rewards as f64 bit patterns, flags
//! exactly. Initial states drawn by `reset(seed)` equal the recorded ones exactly.

use std::path::PathBuf;

use eggroll_envs::mountaincar::ContinuousState;
use eggroll_envs::{
    Acrobot, Action, CartPole, Environment, MountainCar, MountainCarContinuous, Pendulum,
};
use serde_json::Value;

fn parity_dir() -> PathBuf {
    match std::env::var_os("EGGROLL_PARITY_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/parity"),
    }
}

/// The episodes of `name` followed by those of its long twin `<stem>_long.json` (full time
/// limits, random and pumping policies, other seeds: `tools/gen_parity_long.py`).
fn load(name: &str) -> Vec<Value> {
    let long = name.replace(".json", "_long.json");
    let mut eps = load_file(name);
    eps.extend(load_file(&long));
    eps
}

fn load_file(name: &str) -> Vec<Value> {
    let dir = parity_dir();
    assert!(
        dir.is_dir(),
        "parity directory {} is missing: set EGGROLL_PARITY_DIR to the folder holding {name}",
        dir.display()
    );
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).expect("valid JSON");
    let eps = v["episodes"].as_array().expect("episodes").clone();
    assert!(!eps.is_empty(), "no episodes in {name}");
    eps
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn check_step(env: &str, e: usize, t: usize, got: &eggroll_envs::Step, want: &Value) {
    let obs: Vec<f32> = f64s(&want["obs"]).iter().map(|&x| x as f32).collect();
    let got_bits: Vec<u32> = got.observation.iter().map(|x| x.to_bits()).collect();
    let want_bits: Vec<u32> = obs.iter().map(|x| x.to_bits()).collect();
    assert_eq!(
        got_bits, want_bits,
        "{env} episode {e} step {t}: obs {:?} vs {:?}",
        got.observation, obs
    );
    let r = want["reward"].as_f64().unwrap();
    assert_eq!(
        got.reward.to_bits(),
        r.to_bits(),
        "{env} episode {e} step {t}: reward {} vs {r}",
        got.reward
    );
    assert_eq!(
        got.terminated,
        want["terminated"].as_bool().unwrap(),
        "{env} episode {e} step {t}: terminated"
    );
    assert_eq!(
        got.truncated,
        want["truncated"].as_bool().unwrap(),
        "{env} episode {e} step {t}: truncated"
    );
}

#[test]
fn cartpole_v1_matches_gymnasium_step_for_step() {
    let episodes = load("cartpole_v1.json");
    let mut steps = 0;
    for (e, ep) in episodes.iter().enumerate() {
        let s = f64s(&ep["initial_state"]);
        let mut env = CartPole::new();
        env.reset_to([s[0], s[1], s[2], s[3]]);
        let actions = ep["actions"].as_array().unwrap();
        let want = ep["steps"].as_array().unwrap();
        assert_eq!(actions.len(), want.len());
        for (t, (a, w)) in actions.iter().zip(want).enumerate() {
            let got = env.step(Action::Discrete(a.as_i64().unwrap())).unwrap();
            check_step("CartPole", e, t, &got, w);
            steps += 1;
        }
        // The episode is over: stepping again is an error.
        assert!(env.step(Action::Discrete(0)).is_err());
    }
    assert!(steps > 1000, "only {steps} steps checked");
}

#[test]
fn pendulum_v1_matches_gymnasium_step_for_step() {
    let episodes = load("pendulum_v1.json");
    for (e, ep) in episodes.iter().enumerate() {
        let s = f64s(&ep["initial_state"]);
        let mut env = Pendulum::new();
        env.reset_to([s[0], s[1]]);
        let actions = f64s(&ep["actions"]);
        let want = ep["steps"].as_array().unwrap();
        assert_eq!(want.len(), 200);
        assert_eq!(actions.len(), 200);
        for (t, (a, w)) in actions.iter().zip(want).enumerate() {
            // Recorded as float64, applied as a float32 array.
            let got = env.step(Action::Continuous(&[*a as f32])).unwrap();
            check_step("Pendulum", e, t, &got, w);
        }
        assert!(env.step(Action::Continuous(&[0.0])).is_err());
    }
}

/// `reset(seed)` draws Gymnasium's initial state for the seed (NumPy SeedSequence + PCG64).
#[test]
fn reset_with_seed_reproduces_gymnasium_initial_states() {
    for (name, is_cartpole) in [("cartpole_v1.json", true), ("pendulum_v1.json", false)] {
        for (e, ep) in load(name).iter().enumerate() {
            let seed = ep["seed"].as_u64().expect("integer seed");
            let want = f64s(&ep["initial_state"]);
            let (state, obs): (Vec<f64>, Vec<f32>) = if is_cartpole {
                let mut env = CartPole::new();
                let o = env.reset(Some(seed));
                (env.state().to_vec(), o)
            } else {
                let mut env = Pendulum::new();
                let o = env.reset(Some(seed));
                (env.state().to_vec(), o)
            };
            assert_eq!(state, want, "{name} episode {e} seed {seed}");
            if let Some(io) = ep.get("initial_obs") {
                let io: Vec<f32> = f64s(io).iter().map(|&x| x as f32).collect();
                assert_eq!(obs, io, "{name} episode {e}: initial observation");
            }
        }
    }
}

/// Replays every recorded episode of `name` through `env` from its recorded initial state.
fn replay<E: Environment>(
    name: &str,
    label: &str,
    mut env_from: impl FnMut(&[f64]) -> E,
    action: impl Fn(&Value) -> (Option<i64>, Option<f32>),
) -> usize {
    let mut steps = 0;
    for (e, ep) in load(name).iter().enumerate() {
        let mut env = env_from(&f64s(&ep["initial_state"]));
        let actions = ep["actions"].as_array().unwrap();
        let want = ep["steps"].as_array().unwrap();
        assert_eq!(actions.len(), want.len());
        for (t, (a, w)) in actions.iter().zip(want).enumerate() {
            let got = match action(a) {
                (Some(d), _) => env.step(Action::Discrete(d)),
                (_, Some(c)) => env.step(Action::Continuous(&[c])),
                _ => unreachable!(),
            }
            .unwrap();
            check_step(label, e, t, &got, w);
            steps += 1;
        }
        assert!(
            env.step(Action::Discrete(0)).is_err(),
            "{label} episode {e}: not over"
        );
    }
    steps
}

#[test]
fn acrobot_v1_matches_gymnasium_step_for_step() {
    let steps = replay(
        "acrobot_v1.json",
        "Acrobot",
        |s| {
            let mut env = Acrobot::new();
            env.reset_to([s[0], s[1], s[2], s[3]]);
            env
        },
        |a| (Some(a.as_i64().unwrap()), None),
    );
    assert!(steps > 1000, "only {steps} steps checked");
}

#[test]
fn mountaincar_v0_matches_gymnasium_step_for_step() {
    let steps = replay(
        "mountaincar_v0.json",
        "MountainCar",
        |s| {
            let mut env = MountainCar::new();
            env.reset_to([s[0], s[1]]);
            env
        },
        |a| (Some(a.as_i64().unwrap()), None),
    );
    assert!(steps > 1000, "only {steps} steps checked");
}

#[test]
fn mountaincar_continuous_v0_matches_gymnasium_step_for_step() {
    let steps = replay(
        "mountaincarcontinuous_v0.json",
        "MountainCarContinuous",
        |s| {
            let mut env = MountainCarContinuous::new();
            env.reset_to(ContinuousState {
                position: s[0],
                velocity: s[1],
                single: false,
            });
            env
        },
        |a| (None, Some(a.as_f64().unwrap() as f32)),
    );
    assert!(steps > 1000, "only {steps} steps checked");
}

/// `reset(seed)` reproduces the recorded initial states and observations of the three.
#[test]
fn reset_with_seed_reproduces_the_other_classic_control_states() {
    for ep in load("acrobot_v1.json") {
        let mut env = Acrobot::new();
        let o = env.reset(Some(ep["seed"].as_u64().unwrap()));
        assert_eq!(env.state().to_vec(), f64s(&ep["initial_state"]));
        let io: Vec<f32> = f64s(&ep["initial_obs"]).iter().map(|&x| x as f32).collect();
        assert_eq!(o, io);
    }
    for ep in load("mountaincar_v0.json") {
        let mut env = MountainCar::new();
        env.reset(Some(ep["seed"].as_u64().unwrap()));
        assert_eq!(env.state().to_vec(), f64s(&ep["initial_state"]));
    }
    for ep in load("mountaincarcontinuous_v0.json") {
        let mut env = MountainCarContinuous::new();
        let o = env.reset(Some(ep["seed"].as_u64().unwrap()));
        let s = env.state();
        assert_eq!(vec![s.position, s.velocity], f64s(&ep["initial_state"]));
        let io: Vec<f32> = f64s(&ep["initial_obs"]).iter().map(|&x| x as f32).collect();
        assert_eq!(o, io);
    }
}
