//! Environment semantics, vectorised stepping equals scalar stepping, closure environments.
#![allow(clippy::needless_range_loop)]

use eggroll_envs::vec::{Actions, EnvVec, VecEnv};
use eggroll_envs::*;
use eggroll_envs::{CartPoleVec, PendulumVec};

#[test]
fn time_limits_and_finished_episodes() {
    let mut c = CartPole::new();
    assert_eq!(c.max_episode_steps(), Some(500));
    assert_eq!(c.step(Action::Discrete(0)), Err(EnvError::NotReset));
    c.reset(Some(3));
    // Alternate pushes keep the pole up: truncated at exactly 500.
    let mut t = 0;
    loop {
        let th = c.state()[2] + 0.5 * c.state()[3];
        let s = c
            .step(Action::Discrete(if th > 0.0 { 1 } else { 0 }))
            .unwrap();
        t += 1;
        if s.terminated || s.truncated {
            assert!(
                s.truncated && !s.terminated,
                "balanced policy should reach the limit"
            );
            break;
        }
    }
    assert_eq!(t, 500);
    assert_eq!(c.step(Action::Discrete(0)), Err(EnvError::EpisodeFinished));

    let mut p = Pendulum::new();
    assert_eq!(p.max_episode_steps(), Some(200));
    p.reset(Some(1));
    for i in 0..200 {
        let s = p.step(Action::Continuous(&[0.5])).unwrap();
        assert!(!s.terminated);
        assert_eq!(s.truncated, i == 199);
    }
    assert_eq!(
        p.step(Action::Continuous(&[0.0])),
        Err(EnvError::EpisodeFinished)
    );
}

#[test]
fn invalid_actions_are_errors() {
    let mut c = CartPole::new();
    c.reset(Some(0));
    for a in [
        Action::Discrete(2),
        Action::Discrete(-1),
        Action::Continuous(&[1.0]),
    ] {
        assert!(
            matches!(c.step(a), Err(EnvError::InvalidAction(_))),
            "{a:?}"
        );
    }
    let mut p = Pendulum::new();
    p.reset(Some(0));
    for a in [
        Action::Continuous(&[f32::NAN]),
        Action::Continuous(&[1.0, 2.0]),
        Action::Continuous(&[]),
        Action::Discrete(0),
    ] {
        assert!(
            matches!(p.step(a), Err(EnvError::InvalidAction(_))),
            "{a:?}"
        );
    }
    // Invalid actions do not consume a step: the episode still runs 200 steps.
    for _ in 0..200 {
        p.step(Action::Continuous(&[0.0])).unwrap();
    }
}

/// Out-of-range torques are clipped to ±2 exactly as Gymnasium (same result as ±2).
#[test]
fn pendulum_clips_torque() {
    let mut a = Pendulum::new();
    let mut b = Pendulum::new();
    a.reset_to([0.3, -0.2]);
    b.reset_to([0.3, -0.2]);
    let sa = a.step(Action::Continuous(&[7.5])).unwrap();
    let sb = b.step(Action::Continuous(&[2.0])).unwrap();
    assert_eq!(sa, sb);
    let sa = a.step(Action::Continuous(&[f32::NEG_INFINITY])).unwrap();
    let sb = b.step(Action::Continuous(&[-2.0])).unwrap();
    assert_eq!(sa, sb);
}

fn policy(obs: &[f32], i: usize, t: usize) -> i64 {
    // Deterministic mix of a balancing rule and pseudo-random pushes.
    if (i + t).is_multiple_of(7) {
        ((i * 31 + t) % 2) as i64
    } else {
        (obs[2] + 0.3 * obs[3] > 0.0) as i64
    }
}

/// VecEnv equals N scalar environments stepped one by one (observations as bits, rewards,
/// flags), for sizes below and above the parallel threshold.
#[test]
fn cartpole_vec_equals_scalar_stepping() {
    for n in [1usize, 37, 2048] {
        let seed = 77;
        let mut v = CartPoleVec::new(n);
        v.reset(seed);
        let mut scalars: Vec<CartPole> = (0..n).map(|_| CartPole::new()).collect();
        let mut obs: Vec<Vec<f32>> = scalars
            .iter_mut()
            .enumerate()
            .map(|(i, e)| e.reset(Some(member_seed(seed, i))))
            .collect();
        let mut done = vec![false; n];
        for (i, o) in obs.iter().enumerate() {
            assert_eq!(&v.observations()[i * 4..i * 4 + 4], &o[..]);
        }
        for t in 0..510 {
            let actions: Vec<i64> = (0..n).map(|i| policy(&obs[i], i, t)).collect();
            v.step(Actions::Discrete(&actions)).unwrap();
            for i in 0..n {
                if done[i] {
                    assert_eq!(v.rewards()[i], 0.0);
                    assert!(v.done()[i], "an ended episode stays ended");
                    continue;
                }
                let s = scalars[i].step(Action::Discrete(actions[i])).unwrap();
                let got: Vec<u32> = v.observations()[i * 4..i * 4 + 4]
                    .iter()
                    .map(|x| x.to_bits())
                    .collect();
                let want: Vec<u32> = s.observation.iter().map(|x| x.to_bits()).collect();
                assert_eq!(got, want, "n={n} member {i} step {t}");
                assert_eq!(v.rewards()[i], s.reward);
                assert_eq!(v.terminated()[i], s.terminated);
                assert_eq!(v.truncated()[i], s.truncated);
                done[i] = s.terminated || s.truncated;
                assert_eq!(v.done()[i], done[i]);
                obs[i] = s.observation;
            }
        }
        assert!(v.all_done());
    }
}

#[test]
fn pendulum_vec_equals_scalar_stepping() {
    let n = 1500;
    let mut v = PendulumVec::new(n);
    v.reset(5);
    let mut scalars: Vec<Pendulum> = (0..n).map(|_| Pendulum::new()).collect();
    for (i, e) in scalars.iter_mut().enumerate() {
        e.reset(Some(member_seed(5, i)));
    }
    for t in 0..200 {
        let actions: Vec<f32> = (0..n)
            .map(|i| ((i * 13 + t * 7) % 9) as f32 - 4.0)
            .collect();
        v.step(Actions::Continuous(&actions)).unwrap();
        for i in 0..n {
            let s = scalars[i]
                .step(Action::Continuous(&actions[i..i + 1]))
                .unwrap();
            assert_eq!(&v.observations()[i * 3..i * 3 + 3], &s.observation[..]);
            assert_eq!(v.rewards()[i].to_bits(), s.reward.to_bits());
            assert_eq!(v.truncated()[i], s.truncated);
        }
    }
    assert!(v.all_done());
    assert!(v.truncated().iter().all(|&t| t));
}

#[test]
fn vec_env_rejects_bad_actions_without_stepping() {
    let mut v = CartPoleVec::new(4);
    v.reset(0);
    let before = v.observations().to_vec();
    assert!(v.step(Actions::Discrete(&[0, 1, 2, 0])).is_err());
    assert!(v.step(Actions::Discrete(&[0, 1])).is_err());
    assert!(v.step(Actions::Continuous(&[0.0; 4])).is_err());
    assert_eq!(v.observations(), &before[..]);
    let mut p = PendulumVec::new(2);
    p.reset(0);
    assert!(p.step(Actions::Continuous(&[0.0, f32::NAN])).is_err());
    assert!(p.step(Actions::Continuous(&[0.0])).is_err());
}

/// A closure environment behaves like the built-in one it re-implements, alone and vectorised.
#[test]
fn closure_env_matches_builtin_cartpole_and_vectorises() {
    let make = || {
        FnEnv::new(
            (Some(CartPole::new()), 0u64),
            CartPole::new().observation_space(),
            Space::Discrete { n: 2 },
            Some(500),
            |(env, _), seed| env.as_mut().unwrap().reset(seed),
            |(env, _), a| {
                let s = env.as_mut().unwrap().step(a).map_err(|e| e.to_string())?;
                Ok((s.observation, s.reward, s.terminated))
            },
        )
    };
    let mut f = make();
    let mut c = CartPole::new();
    assert_eq!(f.reset(Some(9)), c.reset(Some(9)));
    for t in 0..600 {
        let a = Action::Discrete((t % 3 == 0) as i64);
        match (f.step(a), c.step(a)) {
            (Ok(x), Ok(y)) => assert_eq!(x, y),
            (Err(_), Err(_)) => break,
            (x, y) => panic!("diverged at {t}: {x:?} vs {y:?}"),
        }
    }
    // Vectorised closure environments equal CartPoleVec.
    let n = 64;
    let mut ev = EnvVec::new(n, |_| make());
    let mut cv = CartPoleVec::new(n);
    ev.reset(11);
    cv.reset(11);
    assert_eq!(ev.observations(), cv.observations());
    for t in 0..100 {
        let a: Vec<i64> = (0..n).map(|i| ((i + t) % 2) as i64).collect();
        ev.step(Actions::Discrete(&a)).unwrap();
        cv.step(Actions::Discrete(&a)).unwrap();
        assert_eq!(ev.observations(), cv.observations(), "step {t}");
        assert_eq!(ev.done(), cv.done());
    }
}

#[test]
fn closure_env_validates_and_reports_errors() {
    let mut env = FnEnv::new(
        0.0f32,
        Space::uniform_box(-1.0, 1.0, &[1]),
        Space::uniform_box(-1.0, 1.0, &[2]),
        Some(3),
        |x: &mut f32, _| {
            *x = 0.0;
            vec![0.0]
        },
        |x: &mut f32, a| {
            let Action::Continuous(a) = a else {
                unreachable!()
            };
            if a[0] > 0.9 {
                return Err("simulator exploded".into());
            }
            *x += a[0];
            Ok((vec![*x], 1.0, false))
        },
    );
    assert_eq!(
        env.step(Action::Continuous(&[0.0, 0.0])),
        Err(EnvError::NotReset)
    );
    env.reset(None);
    assert!(matches!(
        env.step(Action::Continuous(&[0.0])),
        Err(EnvError::InvalidAction(_))
    ));
    assert!(
        matches!(env.step(Action::Continuous(&[0.95, 0.0])), Err(EnvError::Custom(m)) if m.contains("exploded"))
    );
    for i in 0..3 {
        let s = env.step(Action::Continuous(&[0.1, 0.0])).unwrap();
        assert_eq!(s.truncated, i == 2);
    }
    assert_eq!(
        env.step(Action::Continuous(&[0.1, 0.0])),
        Err(EnvError::EpisodeFinished)
    );
}

#[test]
fn member_seeds_are_distinct_and_stable() {
    let s: std::collections::HashSet<u64> = (0..10_000).map(|i| member_seed(42, i)).collect();
    assert_eq!(s.len(), 10_000);
    assert_eq!(member_seed(42, 3), member_seed(42, 3));
    assert_ne!(member_seed(42, 3), member_seed(43, 3));
}

/// Acrobot, MountainCar and MountainCarContinuous: the vectorised form steps bit for bit like
/// N scalar environments (both come from one `Dynamics`), through terminations and time
/// limits; bad actions are typed errors that consume no step.
#[test]
fn new_classic_control_vec_equals_scalar_and_rejects_bad_actions() {
    use eggroll_envs::dynamics::{Dynamics, Env, VecOf};
    fn check<D: Dynamics>(continuous: bool, steps: usize) {
        let n = 40;
        let mut v = VecOf::<D>::new(n);
        v.reset(9);
        let mut scalars: Vec<Env<D>> = (0..n).map(|_| Env::<D>::new()).collect();
        for (i, e) in scalars.iter_mut().enumerate() {
            e.reset(Some(member_seed(9, i)));
        }
        let d = D::OBS_DIM;
        let mut ended = vec![false; n];
        for t in 0..steps {
            let disc: Vec<i64> = (0..n).map(|i| ((i * 7 + t / 9) % 3) as i64).collect();
            let cont: Vec<f32> = (0..n)
                .map(|i| (((i * 13 + t) % 7) as f32 - 3.0) * 0.5)
                .collect();
            if continuous {
                v.step(Actions::Continuous(&cont)).unwrap();
            } else {
                v.step(Actions::Discrete(&disc)).unwrap();
            }
            for i in 0..n {
                if ended[i] {
                    continue;
                }
                let s = if continuous {
                    scalars[i].step(Action::Continuous(&cont[i..i + 1]))
                } else {
                    scalars[i].step(Action::Discrete(disc[i]))
                }
                .unwrap();
                assert_eq!(&v.observations()[i * d..(i + 1) * d], &s.observation[..]);
                assert_eq!(v.rewards()[i].to_bits(), s.reward.to_bits());
                assert_eq!(
                    (v.terminated()[i], v.truncated()[i]),
                    (s.terminated, s.truncated)
                );
                ended[i] = s.terminated || s.truncated;
            }
        }
        assert!(v.all_done() && ended.iter().all(|&e| e));
        // Bad actions: typed errors, no step consumed.
        let mut e = Env::<D>::new();
        let valid = if continuous {
            Action::Continuous(&[0.0])
        } else {
            Action::Discrete(0)
        };
        assert_eq!(e.step(valid).unwrap_err(), EnvError::NotReset);
        e.reset(Some(1));
        let bad: Vec<Action<'_>> = if continuous {
            vec![
                Action::Continuous(&[f32::NAN]),
                Action::Continuous(&[0.0, 0.0]),
                Action::Discrete(0),
            ]
        } else {
            vec![
                Action::Discrete(3),
                Action::Discrete(-1),
                Action::Continuous(&[0.0]),
            ]
        };
        for a in bad {
            assert!(
                matches!(e.step(a), Err(EnvError::InvalidAction(_))),
                "{a:?}"
            );
        }
    }
    check::<acrobot::AcrobotV1>(false, 500);
    check::<mountaincar::MountainCarV0>(false, 200);
    check::<mountaincar::MountainCarContinuousV0>(true, 999);
}
