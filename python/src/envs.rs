//! `eggroll.envs`' engine: the Rust environments by Gymnasium id, one (`Env`) or many
//! (`VecEnv`, Gymnasium's next-step autoreset), stepped with the GIL released. The Python
//! module `eggroll/envs.py` wraps them as `gymnasium.Env` and `gymnasium.vector.VectorEnv`.

use eggroll_envs::registry::{self, MakeError};
use eggroll_envs::{Action, Environment, Space};
use numpy::{PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use rayon::prelude::*;
use std::sync::Mutex;

use crate::convert::{array, f32_array};

fn make(id: &str) -> PyResult<Box<dyn Environment>> {
    registry::make(id).map_err(|e| match e {
        MakeError::Unknown { .. } => PyValueError::new_err(format!("`id`: {e}")),
        MakeError::Mujoco(m) => PyRuntimeError::new_err(format!(
            "`id` {id}: {m} (fetch the library with scripts/get-mujoco.sh, or set \
             EGGROLL_MUJOCO_LIB)"
        )),
    })
}

fn space_dict<'py>(py: Python<'py>, space: &Space) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match space {
        Space::Discrete { n } => {
            d.set_item("kind", "discrete")?;
            d.set_item("n", n)?;
        }
        Space::Box { low, high, shape } => {
            d.set_item("kind", "box")?;
            d.set_item("low", array(py, low.clone(), shape)?)?;
            d.set_item("high", array(py, high.clone(), shape)?)?;
        }
    }
    Ok(d)
}

/// The action shape of one member.
#[derive(Clone, Copy)]
enum Kind {
    Discrete(usize),
    Continuous(usize),
}

fn kind_of(space: &Space) -> Kind {
    match space {
        Space::Discrete { n } => Kind::Discrete(*n),
        s => Kind::Continuous(s.flat_dim()),
    }
}

/// Seeds: `None` = continue the generator, except before the first seeded reset, where a
/// seed is drawn from the OS as Gymnasium does.
fn fresh_seed(seed: Option<u64>, seeded: &mut bool) -> Option<u64> {
    match seed {
        Some(s) => {
            *seeded = true;
            Some(s)
        }
        None if !*seeded => {
            *seeded = true;
            let mut b = [0u8; 8];
            getrandom(&mut b);
            Some(u64::from_le_bytes(b))
        }
        None => None,
    }
}

fn getrandom(out: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    // std's RandomState is seeded from the OS per process and varies per instance.
    for chunk in out.chunks_mut(8) {
        let v = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            .to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// One environment (`eggroll.envs.make` wraps it).
#[pyclass(module = "eggroll")]
pub struct Env {
    // A Mutex makes the class Sync (the environments are Send); &mut self already
    // serialises calls, so the lock is never contended.
    env: Mutex<Box<dyn Environment>>,
    id: String,
    seeded: bool,
    kind: Kind,
}

impl Env {
    fn env(&mut self) -> &mut Box<dyn Environment> {
        self.env.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    fn obs<'py>(&mut self, py: Python<'py>, obs32: Vec<f32>) -> PyResult<Bound<'py, PyAny>> {
        match self.env().observation_f64() {
            Some(o) => array(py, o.to_vec(), &[o.len()]),
            None => {
                let n = obs32.len();
                array(py, obs32, &[n])
            }
        }
    }
}

#[pymethods]
impl Env {
    /// `Env(id)`: a new environment by Gymnasium id.
    #[new]
    fn new(id: &str) -> PyResult<Self> {
        let env = make(id)?;
        let kind = kind_of(&env.action_space());
        Ok(Self {
            env: Mutex::new(env),
            id: id.into(),
            seeded: false,
            kind,
        })
    }

    /// The Gymnasium id.
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// True when observations are float64 (MuJoCo), else float32.
    #[getter]
    fn obs_f64(&self) -> bool {
        registry::is_mujoco(&self.id)
    }

    /// `{"kind": "box", "low", "high"}` or `{"kind": "discrete", "n"}`.
    #[getter]
    fn observation_space<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        space_dict(py, &self.env().observation_space())
    }

    /// As `observation_space`, for actions.
    #[getter]
    fn action_space<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        space_dict(py, &self.env().action_space())
    }

    /// Gymnasium's `max_episode_steps`.
    #[getter]
    fn max_episode_steps(&mut self) -> Option<usize> {
        self.env().max_episode_steps()
    }

    /// Start an episode; returns the observation.
    #[pyo3(signature = (seed = None))]
    fn reset<'py>(&mut self, py: Python<'py>, seed: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        let seed = fresh_seed(seed, &mut self.seeded);
        let obs = self.env().reset(seed);
        self.obs(py, obs)
    }

    /// One step: `(observation, reward, terminated, truncated)`.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let step = match self.kind {
            Kind::Discrete(n) => {
                let a = discrete(action, n, "action")?;
                self.env().step(Action::Discrete(a))
            }
            Kind::Continuous(dim) => {
                let a = f32_array(py, action, "action")?;
                let v = a.as_slice()?;
                if v.len() != dim {
                    return Err(PyValueError::new_err(format!(
                        "`action` has {} value(s) (shape {:?}); {} expects {dim}",
                        v.len(),
                        a.shape(),
                        self.id
                    )));
                }
                self.env().step(Action::Continuous(v))
            }
        }
        .map_err(|e| PyValueError::new_err(format!("`action`/state: {e}")))?;
        let obs = self.obs(py, step.observation)?;
        PyTuple::new(
            py,
            [
                obs,
                step.reward.into_pyobject(py)?.into_any(),
                pyo3::types::PyBool::new(py, step.terminated)
                    .to_owned()
                    .into_any(),
                pyo3::types::PyBool::new(py, step.truncated)
                    .to_owned()
                    .into_any(),
            ],
        )
    }
}

fn discrete(action: &Bound<'_, PyAny>, n: usize, arg: &str) -> PyResult<i64> {
    let a: i64 = action
        .call_method0("__index__")
        .and_then(|v| v.extract())
        .map_err(|_| {
            PyValueError::new_err(format!(
                "`{arg}` must be an integer in Discrete({n}), got {}",
                action.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })?;
    if a < 0 || a as usize >= n {
        return Err(PyValueError::new_err(format!(
            "`{arg}` is {a}; must be in Discrete({n})"
        )));
    }
    Ok(a)
}

/// Many environments of one id, Gymnasium's next-step autoreset (`eggroll.envs.make_vec`).
#[pyclass(module = "eggroll")]
pub struct VecEnv {
    envs: Mutex<Vec<Box<dyn Environment>>>,
    id: String,
    kind: Kind,
    obs_dim: usize,
    f64_obs: bool,
    seeded: Vec<bool>,
    autoreset: Vec<bool>,
    started: bool,
}

/// An observation element: f32 (classic control's own dtype) or f64 (MuJoCo's).
trait Elem: numpy::Element + Copy + Default + Send + Sync {
    fn write(env: &dyn Environment, obs32: &[f32], row: &mut [Self]);
}

impl Elem for f32 {
    fn write(_: &dyn Environment, obs32: &[f32], row: &mut [f32]) {
        row.copy_from_slice(&obs32[..row.len()]);
    }
}

impl Elem for f64 {
    fn write(env: &dyn Environment, _: &[f32], row: &mut [f64]) {
        let o = env
            .observation_f64()
            .expect("f64 observations come from MuJoCo environments");
        row.copy_from_slice(&o[..row.len()]);
    }
}

/// One member's outcome: its observation (f32), reward, terminated, truncated.
type Member = (Vec<f32>, f64, bool, bool);

/// Run `f` on every member and gather the outputs as `(obs, rewards, terminated,
/// truncated)` numpy arrays; on the pool when `parallel`.
fn each<'py, T: Elem>(
    py: Python<'py>,
    envs: &mut [Box<dyn Environment>],
    d: usize,
    parallel: bool,
    f: impl Fn(usize, &mut dyn Environment) -> Result<Member, String> + Sync,
) -> PyResult<(Bound<'py, PyTuple>, Vec<bool>)> {
    let n = envs.len();
    let mut obs = vec![T::default(); n * d];
    let mut res = vec![(0.0f64, false, false); n];
    let body = |i: usize,
                e: &mut Box<dyn Environment>,
                row: &mut [T],
                r: &mut (f64, bool, bool)|
     -> Result<(), String> {
        let (o, reward, term, trunc) = f(i, e.as_mut())?;
        T::write(e.as_ref(), &o, row);
        *r = (reward, term, trunc);
        Ok(())
    };
    py.detach(|| {
        if parallel {
            envs.par_iter_mut()
                .zip(obs.par_chunks_mut(d))
                .zip(res.par_iter_mut())
                .enumerate()
                .try_for_each(|(i, ((e, row), r))| body(i, e, row, r))
        } else {
            envs.iter_mut()
                .zip(obs.chunks_mut(d))
                .zip(res.iter_mut())
                .enumerate()
                .try_for_each(|(i, ((e, row), r))| body(i, e, row, r))
        }
    })
    .map_err(PyRuntimeError::new_err)?;
    let obs = array(py, obs, &[n, d])?;
    let rewards = array(py, res.iter().map(|r| r.0).collect(), &[n])?;
    let term = array(py, res.iter().map(|r| r.1).collect(), &[n])?;
    let trunc = array(py, res.iter().map(|r| r.2).collect(), &[n])?;
    let done = res.iter().map(|r| r.1 || r.2).collect();
    Ok((PyTuple::new(py, [obs, rewards, term, trunc])?, done))
}

impl VecEnv {
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        parallel: bool,
        f: impl Fn(usize, &mut dyn Environment) -> Result<Member, String> + Sync,
    ) -> PyResult<(Bound<'py, PyTuple>, Vec<bool>)> {
        let d = self.obs_dim;
        let envs = self.envs.get_mut().unwrap_or_else(|e| e.into_inner());
        if self.f64_obs {
            each::<f64>(py, envs, d, parallel, f)
        } else {
            each::<f32>(py, envs, d, parallel, f)
        }
    }
}

#[pymethods]
impl VecEnv {
    /// `VecEnv(id, num_envs)`.
    #[new]
    fn new(id: &str, num_envs: i64) -> PyResult<Self> {
        let n = usize::try_from(num_envs)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                PyValueError::new_err(format!("`num_envs` is {num_envs}; must be ≥ 1"))
            })?;
        let envs = (0..n).map(|_| make(id)).collect::<PyResult<Vec<_>>>()?;
        let kind = kind_of(&envs[0].action_space());
        Ok(Self {
            obs_dim: envs[0].observation_space().flat_dim(),
            f64_obs: registry::is_mujoco(id),
            kind,
            envs: Mutex::new(envs),
            id: id.into(),
            seeded: vec![false; n],
            autoreset: vec![false; n],
            started: false,
        })
    }

    /// Number of members.
    #[getter]
    fn num_envs(&self) -> usize {
        self.seeded.len()
    }

    /// Reset every member, member i with `seeds[i]` (None: continue its generator);
    /// returns `(obs, rewards, terminated, truncated)` with zero rewards and flags.
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seeds: Vec<Option<u64>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if seeds.len() != self.seeded.len() {
            return Err(PyValueError::new_err(format!(
                "`seed`: {} seeds for {} environments",
                seeds.len(),
                self.seeded.len()
            )));
        }
        let seeds: Vec<Option<u64>> = seeds
            .into_iter()
            .zip(self.seeded.iter_mut())
            .map(|(s, done)| fresh_seed(s, done))
            .collect();
        let (out, _) = self.run(py, true, |i, e| Ok((e.reset(seeds[i]), 0.0, false, false)))?;
        self.autoreset.fill(false);
        self.started = true;
        Ok(out)
    }

    /// Step every member (a member whose episode ended at the previous step is reset
    /// instead and its action ignored: Gymnasium's next-step autoreset). All actions are
    /// checked before any member moves.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if !self.started {
            return Err(PyRuntimeError::new_err("call reset() before step()"));
        }
        let n = self.seeded.len();
        let (disc, cont, dim): (Vec<i64>, Vec<f32>, usize) = match self.kind {
            Kind::Discrete(c) => {
                let np = py.import("numpy")?;
                let fast = actions
                    .cast::<numpy::PyArray1<i64>>()
                    .ok()
                    .map(|a| a.readonly());
                let v: Vec<i64> = match fast {
                    Some(ro) if ro.is_c_contiguous() => ro.as_slice()?.to_vec(),
                    _ => {
                        let arr = np.call_method1("asarray", (actions,))?;
                        let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
                        if !matches!(kind.as_str(), "i" | "u") {
                            return Err(PyValueError::new_err(format!(
                                "`actions` must be integers in Discrete({c}), got dtype kind \
                                 `{kind}`"
                            )));
                        }
                        let arr = np.call_method1("ascontiguousarray", (arr, "int64"))?;
                        let arr = arr.cast_into::<numpy::PyArrayDyn<i64>>()?;
                        let ro = arr.readonly();
                        if ro.ndim() != 1 {
                            return Err(PyValueError::new_err(format!(
                                "`actions` has shape {:?}; expected ({n},)",
                                ro.shape()
                            )));
                        }
                        ro.as_slice()?.to_vec()
                    }
                };
                if v.len() != n {
                    return Err(PyValueError::new_err(format!(
                        "`actions` holds {} value(s); expected ({n},)",
                        v.len()
                    )));
                }
                if let Some(i) =
                    (0..n).find(|&i| !self.autoreset[i] && !(0..c as i64).contains(&v[i]))
                {
                    return Err(PyValueError::new_err(format!(
                        "`actions`[{i}] is {}; must be in Discrete({c})",
                        v[i]
                    )));
                }
                (v, Vec::new(), 1)
            }
            Kind::Continuous(d) => {
                let a = f32_array(py, actions, "actions")?;
                if a.shape() != [n, d] {
                    return Err(PyValueError::new_err(format!(
                        "`actions` has shape {:?}; expected ({n}, {d})",
                        a.shape()
                    )));
                }
                let v = a.as_slice()?.to_vec();
                if let Some(i) = (0..n).find(|&i| {
                    !self.autoreset[i] && v[i * d..(i + 1) * d].iter().any(|x| x.is_nan())
                }) {
                    return Err(PyValueError::new_err(format!("`actions`[{i}] holds NaN")));
                }
                (Vec::new(), v, d)
            }
        };
        let kind = self.kind;
        let autoreset = self.autoreset.clone();
        // Cheap classic-control steps stay on this thread; MuJoCo members go to the pool.
        let parallel = self.f64_obs && n > 1;
        let (out, done) = self.run(py, parallel, |i, e| {
            if autoreset[i] {
                return Ok((e.reset(None), 0.0, false, false));
            }
            let action = match kind {
                Kind::Discrete(_) => Action::Discrete(disc[i]),
                Kind::Continuous(_) => Action::Continuous(&cont[i * dim..(i + 1) * dim]),
            };
            let s = e.step(action).map_err(|err| format!("member {i}: {err}"))?;
            Ok((s.observation, s.reward, s.terminated, s.truncated))
        })?;
        self.autoreset = done;
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!("VecEnv({:?}, num_envs={})", self.id, self.seeded.len())
    }
}
