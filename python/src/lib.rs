//! Python bindings of eggroll (module `eggroll._eggroll`; the package `eggroll` re-exports it).
//!
//! * `minimize(fn, x0, sigma0, strategy, …)`: CMA-ES / sep-CMA-ES / EGGROLL / SimpleES on a
//!   Python callable; the GIL is released between evaluations, an exception raised by `fn`
//!   propagates unchanged, Ctrl-C raises `KeyboardInterrupt`.
//! * `Strategy`: ask/tell over named parameter arrays (`eggroll_core::Trainer::ask/tell`).
//! * `Policy`: an MLP whose population forward runs every member's low-rank perturbation in one
//!   batched pass (`eggroll_policies::PopulationForward`) without materialising members.
//! * `train(task, **overrides)`: the CLI's `eggroll train TASK --json`, as a dict.

mod convert;
mod envs;
mod policy;
mod strategy;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use eggroll_core::minimize::{BoundHandling, MinimizeOptions, Restarts, minimize as core_minimize};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{array, core_err, f64_vec, run_err};

/// What `minimize` returns (attributes like scipy's `OptimizeResult`).
#[pyclass(module = "eggroll", get_all, frozen)]
struct OptimizeResult {
    /// The best point evaluated (float64 array).
    x: Py<PyAny>,
    /// Its value.
    fun: f64,
    /// Evaluations used.
    evals: u64,
    /// Evaluations when `target` was first reached (None if not reached or no target).
    evals_to_target: Option<u64>,
    /// Why it stopped: "target", "max_evals" or a CMA-ES criterion ("tol_fun", "tol_x", …).
    stop: String,
    /// Restarts performed.
    restarts: usize,
}

#[pymethods]
impl OptimizeResult {
    fn __repr__(&self) -> String {
        format!(
            "OptimizeResult(fun={}, evals={}, stop={:?}, restarts={})",
            self.fun, self.evals, self.stop, self.restarts
        )
    }
}

/// Minimise `fn(x) -> float` from `x0`.
#[pyfunction]
#[pyo3(signature = (
    fn_, x0, sigma0 = 1.0, strategy = "cmaes", max_evals = 100_000, seed = 0, bounds = None,
    target = None, restarts = "none", population_size = 0, bound_handling = "penalty",
    nonfinite = "error"
))]
#[allow(clippy::too_many_arguments)]
fn minimize(
    py: Python<'_>,
    fn_: Py<PyAny>,
    x0: &Bound<'_, PyAny>,
    sigma0: f64,
    strategy: &str,
    max_evals: i64,
    seed: i64,
    bounds: Option<&Bound<'_, PyAny>>,
    target: Option<f64>,
    restarts: &str,
    population_size: i64,
    bound_handling: &str,
    nonfinite: &str,
) -> PyResult<OptimizeResult> {
    if !fn_.bind(py).is_callable() {
        return Err(PyTypeError::new_err("`fn` must be callable"));
    }
    let x0 = f64_vec(py, x0, "x0")?;
    let nonneg = |v: i64, name: &str| -> PyResult<u64> {
        u64::try_from(v).map_err(|_| PyValueError::new_err(format!("`{name}` is {v}; must be ≥ 0")))
    };
    let bounds = match bounds {
        None => None,
        Some(b) if b.is_none() => None,
        Some(b) => {
            let (lo, hi): (Bound<'_, PyAny>, Bound<'_, PyAny>) = b.extract().map_err(|_| {
                PyTypeError::new_err("`bounds` must be a pair (lower, upper) of numbers or arrays")
            })?;
            let side = |v: &Bound<'_, PyAny>| -> PyResult<Vec<f64>> {
                match v.extract::<f64>() {
                    Ok(x) => Ok(vec![x]),
                    Err(_) => f64_vec(py, v, "bounds"),
                }
            };
            Some((side(&lo)?, side(&hi)?))
        }
    };
    let opts = MinimizeOptions {
        method: eggroll_core::StrategyKind::parse(strategy, "strategy").map_err(core_err)?,
        population_size: nonneg(population_size, "population_size")? as usize,
        max_evals: nonneg(max_evals, "max_evals")?,
        target,
        restarts: Restarts::parse(restarts).map_err(core_err)?,
        max_restarts: usize::MAX,
        seed: nonneg(seed, "seed")?,
        bounds,
        bound_handling: match bound_handling {
            "penalty" => BoundHandling::Penalty { weight: 1.0 },
            "repair" => BoundHandling::Repair,
            other => {
                return Err(PyValueError::new_err(format!(
                    "`bound_handling` `{other}` is unknown; valid: penalty, repair"
                )));
            }
        },
        nonfinite: match nonfinite {
            "error" => eggroll_core::NonFinitePolicy::Error,
            "worst" => eggroll_core::NonFinitePolicy::Worst,
            other => {
                return Err(PyValueError::new_err(format!(
                    "`nonfinite` `{other}` is unknown; valid: error, worst"
                )));
            }
        },
        restart_region: None,
        ..MinimizeOptions::default()
    };
    // The first exception raised by `fn` (or Ctrl-C): evaluation stops and it is re-raised.
    let failure: Mutex<Option<PyErr>> = Mutex::new(None);
    let evaluations = std::sync::atomic::AtomicU64::new(0);
    let objective = |x: &[f64]| -> f64 {
        if failure.lock().expect("not poisoned").is_some() {
            return f64::NAN;
        }
        let k = evaluations.fetch_add(1, Ordering::Relaxed);
        let r: PyResult<f64> = Python::attach(|py| {
            py.check_signals()?;
            let arr = array(py, x.to_vec(), &[x.len()])?;
            let v = fn_.bind(py).call1((arr,))?;
            v.extract::<f64>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "`fn` must return a number; evaluation {k} returned {}",
                    v.get_type()
                        .name()
                        .map_or_else(|_| "?".to_string(), |n| n.to_string())
                ))
            })
        });
        match r {
            Ok(v) => v,
            Err(e) => {
                *failure.lock().expect("not poisoned") = Some(e);
                f64::NAN
            }
        }
    };
    let result = py.detach(|| core_minimize(objective, &x0, sigma0, &opts));
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let r = result.map_err(|e| match e {
        eggroll_core::Error::NonFiniteFitness { generation, .. } => PyValueError::new_err(format!(
            "`fn` returned NaN (generation {generation}); pass nonfinite=\"worst\" to rank NaN last"
        )),
        other => core_err(other),
    })?;
    Ok(OptimizeResult {
        x: array(py, r.x.clone(), &[r.x.len()])?.unbind(),
        fun: r.f,
        evals: r.evals,
        evals_to_target: r.evals_to_target,
        stop: r.stop.label().to_string(),
        restarts: r.restarts,
    })
}

/// A Python value as a TOML literal for a `key=value` override.
fn toml_literal(key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(b) = v.extract::<bool>() {
        return Ok(b.to_string());
    }
    if let Ok(i) = v.extract::<i64>() {
        return Ok(i.to_string());
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
            format!("{f:.1}")
        } else {
            format!("{f:e}")
        });
    }
    if let Ok(s) = v.extract::<String>() {
        return Ok(toml::Value::String(s).to_string());
    }
    if let Ok(items) = v.extract::<Vec<Bound<'_, PyAny>>>() {
        let parts: PyResult<Vec<String>> = items.iter().map(|i| toml_literal(key, i)).collect();
        return Ok(format!("[{}]", parts?.join(", ")));
    }
    Err(PyTypeError::new_err(format!(
        "`{key}`: expected a bool, number, string or list"
    )))
}

/// Train a task as `eggroll train TASK --json` does and return that JSON object as a dict.
///
/// Keyword arguments: the CLI's flags (`seed`, `generations`, `population`, `rank`, `sigma`,
/// `lr`, `threads`, `episodes`, `batch`, `model`, `time_budget`, `data_dir`, `out`, `force`,
/// `strategy`) and any config key with `__` for its dots (`es__optimizer__kind="sgd"`).
#[pyfunction]
#[pyo3(signature = (task, **overrides))]
fn train(py: Python<'_>, task: &str, overrides: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    let mut sets = Vec::new();
    let mut out = None;
    let mut force = false;
    if let Some(kw) = overrides {
        for (k, v) in kw.iter() {
            let k: String = k.extract()?;
            let key = match k.as_str() {
                "out" => {
                    out = Some(std::path::PathBuf::from(v.extract::<String>().map_err(
                        |_| PyTypeError::new_err("`out` must be a path string"),
                    )?));
                    continue;
                }
                "force" => {
                    force = v
                        .extract::<bool>()
                        .map_err(|_| PyTypeError::new_err("`force` must be a bool"))?;
                    continue;
                }
                "population_size" => "es.population_size".to_string(),
                "learning_rate" => "es.learning_rate".to_string(),
                flag if eggroll_run::flags::flag_key(flag).is_some() => {
                    eggroll_run::flags::flag_key(flag)
                        .expect("checked")
                        .to_string()
                }
                other => other.replace("__", "."),
            };
            sets.push(format!("{key}={}", toml_literal(&k, &v)?));
        }
    }
    let start = eggroll_run::Start::New {
        task: task.to_string(),
        file: None,
        sets,
        overrides: Vec::new(),
        out,
        force,
    };
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    // The run goes on its own thread; this one watches for Ctrl-C (Python's handler only runs
    // when Python code does) and asks the session to stop cleanly.
    let worker = std::thread::spawn(move || {
        let options = eggroll_run::Options {
            interrupt: flag,
            ..eggroll_run::Options::default()
        };
        eggroll_run::Session::start(start, options).and_then(|s| s.run())
    });
    let mut interrupted = None;
    while !worker.is_finished() {
        py.detach(|| std::thread::sleep(std::time::Duration::from_millis(20)));
        if interrupted.is_none()
            && let Err(e) = py.check_signals()
        {
            interrupt.store(true, Ordering::SeqCst);
            interrupted = Some(e);
        }
    }
    let outcome = worker
        .join()
        .map_err(|_| pyo3::exceptions::PyRuntimeError::new_err("the training thread panicked"))?;
    if let Some(e) = interrupted {
        return Err(e);
    }
    match outcome.map_err(run_err)? {
        eggroll_run::Outcome::Finished(report) => {
            let json = py.import("json")?;
            Ok(json
                .call_method1("loads", (report.json.to_string(),))?
                .unbind())
        }
        eggroll_run::Outcome::Interrupted { .. } => {
            Err(PyKeyboardInterrupt::new_err("training interrupted"))
        }
        eggroll_run::Outcome::Worker => Ok(py.None()),
    }
}

/// The extension module.
#[pymodule]
fn _eggroll(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(minimize, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_class::<OptimizeResult>()?;
    m.add_class::<strategy::Strategy>()?;
    m.add_class::<policy::Policy>()?;
    m.add_class::<envs::Env>()?;
    m.add_class::<envs::VecEnv>()?;
    m.add("ENV_IDS", eggroll_envs::registry::IDS.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
