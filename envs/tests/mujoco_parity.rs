//! Gymnasium MuJoCo v5 parity: every vendored episode (`envs/tests/data/parity/*_v5.json`,
//! from `tools/gen_parity_mujoco.py` with Gymnasium 1.4.0 + mujoco 4.0.1) replayed through
//! the scalar environment and, member by member, through the vectorised one.
//!
//! `reset(seed)` must give the recorded qpos, qvel and observation bit for bit; each step the
//! observation (f64), reward (f64) and flags bit for bit. No tolerance anywhere: where
//! Gymnasium's arithmetic goes through NumPy or BLAS (float32 control costs, pairwise sums,
//! `np.linalg.norm`'s fused multiply-adds), the environments reproduce that arithmetic.
//!
//! Without the MuJoCo library these tests print why and pass, unless
//! `EGGROLL_REQUIRE_MUJOCO=1` (set by CI), which makes a missing library a failure.
//! `EGGROLL_PARITY_DIR` overrides the data folder.

use std::path::PathBuf;

use eggroll_envs::mujoco::{
    Ant, HalfCheetah, Hopper, Humanoid, InvertedDoublePendulum, InvertedPendulum, MujocoEnv,
    MujocoVec, Reacher, Swimmer, Task, Walker2d,
};
use eggroll_envs::{Action, Actions, Environment, VecEnv};
use serde_json::Value;

fn parity_dir() -> PathBuf {
    match std::env::var_os("EGGROLL_PARITY_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/parity"),
    }
}

/// False (after saying why) when the library is absent and not required.
fn mujoco_here() -> bool {
    match eggroll_envs::mujoco::ffi::library() {
        Ok(_) => true,
        Err(e) => {
            let required = std::env::var("EGGROLL_REQUIRE_MUJOCO").is_ok_and(|v| v == "1");
            assert!(!required, "EGGROLL_REQUIRE_MUJOCO=1 but: {e}");
            eprintln!("skipping MuJoCo parity: {e}");
            false
        }
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    f64s(v).iter().map(|&x| x as f32).collect()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn same(got: f64, want: f64) -> bool {
    got.to_bits() == want.to_bits()
}

fn replay<T: Task>() {
    if !mujoco_here() {
        return;
    }
    let name = T::ID.to_lowercase().replace('-', "_") + ".json";
    let path = parity_dir().join(&name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let data: Value = serde_json::from_str(&text).expect("valid JSON");
    let episodes = data["episodes"].as_array().expect("episodes");
    assert!(!episodes.is_empty(), "{name}: no episodes");
    let mut env = MujocoEnv::<T>::new().unwrap();
    let mut steps_checked = 0;
    for (e, ep) in episodes.iter().enumerate() {
        assert_eq!(ep["env"].as_str(), Some(T::ID));
        let seed = ep["seed"].as_u64().unwrap();
        let obs = env.reset(Some(seed));
        let d = env.data();
        assert_eq!(
            bits(d.qpos()),
            bits(&f64s(&ep["initial_qpos"])),
            "{name} ep {e}: qpos"
        );
        assert_eq!(
            bits(d.qvel()),
            bits(&f64s(&ep["initial_qvel"])),
            "{name} ep {e}: qvel"
        );
        let want_obs = f64s(&ep["initial_obs"]);
        assert_eq!(
            bits(env.observation_f64()),
            bits(&want_obs),
            "{name} ep {e}: obs"
        );
        assert_eq!(obs, want_obs.iter().map(|&x| x as f32).collect::<Vec<_>>());
        let actions = ep["actions"].as_array().unwrap();
        let steps = ep["steps"].as_array().unwrap();
        for (t, (a, want)) in actions.iter().zip(steps).enumerate() {
            let a = f32s(a);
            let got = env.step(Action::Continuous(&a)).unwrap();
            let wo = f64s(&want["obs"]);
            let go = env.observation_f64();
            if let Some(i) = (0..wo.len()).find(|&i| go[i].to_bits() != wo[i].to_bits()) {
                panic!(
                    "{name} ep {e} (seed {seed}) step {t}: obs[{i}] = {:e}, Gymnasium {:e}",
                    go[i], wo[i]
                );
            }
            let wr = want["reward"].as_f64().unwrap();
            assert!(
                same(got.reward, wr),
                "{name} ep {e} step {t}: reward {:e}, Gymnasium {:e}",
                got.reward,
                wr
            );
            assert_eq!(
                got.terminated,
                want["terminated"].as_bool().unwrap(),
                "{name} ep {e} step {t}: terminated"
            );
            assert_eq!(
                got.truncated,
                want["truncated"].as_bool().unwrap(),
                "{name} ep {e} step {t}: truncated"
            );
            steps_checked += 1;
        }
        assert!(
            matches!(
                env.step(Action::Continuous(&f32s(&actions[0]))),
                Err(eggroll_envs::EnvError::EpisodeFinished)
            ),
            "{name} ep {e}: stepping a finished episode must be refused"
        );
    }
    // The vectorised environment: all episodes at once, each member its recorded seed and
    // actions (a finished member's row is ignored).
    let n = episodes.len();
    let mut venv = MujocoVec::<T>::new(n).unwrap();
    let seeds: Vec<u64> = episodes
        .iter()
        .map(|ep| ep["seed"].as_u64().unwrap())
        .collect();
    venv.reset_seeds(&seeds);
    let nu = f32s(&episodes[0]["actions"][0]).len();
    let longest = episodes
        .iter()
        .map(|ep| ep["steps"].as_array().unwrap().len())
        .max()
        .unwrap();
    for t in 0..longest {
        let mut a = vec![0.0f32; n * nu];
        for (i, ep) in episodes.iter().enumerate() {
            if let Some(row) = ep["actions"].as_array().unwrap().get(t) {
                a[i * nu..(i + 1) * nu].copy_from_slice(&f32s(row));
            }
        }
        venv.step(Actions::Continuous(&a)).unwrap();
        for (i, ep) in episodes.iter().enumerate() {
            if let Some(want) = ep["steps"].as_array().unwrap().get(t) {
                assert_eq!(
                    bits(venv.observation_f64(i)),
                    bits(&f64s(&want["obs"])),
                    "{name} vec member {i} step {t}"
                );
                assert!(
                    same(venv.rewards()[i], want["reward"].as_f64().unwrap()),
                    "{name} vec member {i} step {t}: reward"
                );
            }
        }
    }
    assert!(venv.all_done(), "{name}: every recorded episode ended");
    eprintln!("{name}: {n} episodes, {steps_checked} steps match");
}

#[test]
fn half_cheetah_v5() {
    replay::<HalfCheetah>();
}
#[test]
fn hopper_v5() {
    replay::<Hopper>();
}
#[test]
fn walker2d_v5() {
    replay::<Walker2d>();
}
#[test]
fn ant_v5() {
    replay::<Ant>();
}
#[test]
fn swimmer_v5() {
    replay::<Swimmer>();
}
#[test]
fn humanoid_v5() {
    replay::<Humanoid>();
}
#[test]
fn inverted_pendulum_v5() {
    replay::<InvertedPendulum>();
}
#[test]
fn inverted_double_pendulum_v5() {
    replay::<InvertedDoublePendulum>();
}
#[test]
fn reacher_v5() {
    replay::<Reacher>();
}

/// The models whose geoms can never touch (Reacher, Swimmer and the two pendulums: no geom's
/// `contype` shares a bit with any geom's `conaffinity`) load with collision detection off (`mjDSBL_CONTACT`); the
/// replays above hold them to Gymnasium's bits with it. The others keep it on.
#[test]
fn only_models_whose_geoms_can_touch_detect_collisions() {
    if !mujoco_here() {
        return;
    }
    use eggroll_envs::mujoco::model;
    let touching = [
        model::<HalfCheetah>(),
        model::<Hopper>(),
        model::<Walker2d>(),
        model::<Ant>(),
        model::<Humanoid>(),
    ];
    assert!(touching.into_iter().all(|m| m.unwrap().contacts));
    let never = [
        model::<Swimmer>(),
        model::<InvertedPendulum>(),
        model::<InvertedDoublePendulum>(),
        model::<Reacher>(),
    ];
    assert!(never.into_iter().all(|m| !m.unwrap().contacts));
}
