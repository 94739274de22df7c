//! `eggroll.Strategy`: ask/tell over named parameter arrays.

use candle_core::{Device, Tensor};
use eggroll_core::{
    EsConfig, Noise, OptimizerConfig, Pairing, Params, Population, Scaling, StrategyKind, Trainer,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde::{Deserialize, Serialize};

use numpy::PyUntypedArrayMethods;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::convert::{array, core_err, f32_array};

/// Everything needed to rebuild a strategy (stored in saved files).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Spec {
    kind: String,
    shapes: Vec<(String, Vec<usize>)>,
    population_size: usize,
    sigma: f32,
    learning_rate: f32,
    rank: usize,
    seed: u64,
    optimizer: String,
    maximize: bool,
    /// Absent in files saved before these options existed: the defaults.
    #[serde(default = "one")]
    noise_reuse: u64,
    #[serde(default)]
    group_size: usize,
    #[serde(default)]
    freeze_nonlora: bool,
    #[serde(default = "yes")]
    antithetic: bool,
    #[serde(default = "textbook")]
    scaling: String,
}

fn one() -> u64 {
    1
}
fn yes() -> bool {
    true
}
fn textbook() -> String {
    "textbook".into()
}

const SPEC_KEY: &str = "python_strategy";

impl Spec {
    fn build(&self, init: Option<Vec<Vec<f32>>>) -> PyResult<Trainer> {
        let mut params = Params::new();
        for (i, (name, dims)) in self.shapes.iter().enumerate() {
            let numel: usize = dims.iter().product();
            let values = match &init {
                Some(v) => v[i].clone(),
                None => vec![0.0; numel],
            };
            params
                .push(
                    name.clone(),
                    Tensor::from_vec(values, dims.as_slice(), &Device::Cpu)
                        .map_err(|e| PyValueError::new_err(format!("`shapes` `{name}`: {e}")))?,
                )
                .map_err(core_err)?;
        }
        let optimizer = match self.optimizer.as_str() {
            "sgd" => OptimizerConfig::Sgd { momentum: 0.0 },
            "adam" => OptimizerConfig::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            other => {
                return Err(PyValueError::new_err(format!(
                    "`optimizer` `{other}` is unknown; valid: sgd, adam"
                )));
            }
        };
        let scaling = match self.scaling.as_str() {
            "textbook" => Scaling::Textbook,
            "official" => Scaling::Official,
            other => {
                return Err(PyValueError::new_err(format!(
                    "`scaling` `{other}` is unknown; valid: textbook, official"
                )));
            }
        };
        let es = EsConfig {
            population_size: self.population_size,
            sigma: self.sigma,
            learning_rate: self.learning_rate,
            rank: self.rank,
            seed: self.seed,
            optimizer,
            noise_reuse: self.noise_reuse,
            group_size: self.group_size,
            freeze_nonlora: self.freeze_nonlora,
            scaling,
            pairing: if self.antithetic {
                Pairing::Antithetic
            } else {
                Pairing::Independent
            },
            ..EsConfig::default()
        };
        let strategy = StrategyKind::parse(&self.kind, "strategy")
            .and_then(|k| k.build(&es, &params))
            .map_err(core_err)?;
        Ok(Trainer::from_boxed(strategy, params))
    }
}

/// An evolution strategy over named parameter arrays, driven by ask/tell.
#[pyclass(module = "eggroll")]
pub struct Strategy {
    spec: Spec,
    trainer: Mutex<Trainer>,
    pub(crate) population: Option<Population>,
    /// Host copy of the parameters `population` perturbs, made on the first `member(i)` of
    /// a generation (θ does not change between `ask` and `tell`).
    base: Option<Vec<Vec<f32>>>,
    /// The threads `ask`, `tell` and `member` run on (`threads`); None: the global pool.
    pool: Option<(usize, Arc<rayon::ThreadPool>)>,
}

fn shape_of(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    if let Ok(n) = v.extract::<usize>() {
        return Ok(vec![n]);
    }
    let dims: Vec<i64> = v.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "`shapes` `{name}` must be a tuple of positive integers"
        ))
    })?;
    if dims.is_empty() || dims.iter().any(|&d| d <= 0) {
        return Err(PyValueError::new_err(format!(
            "`shapes` `{name}` is {dims:?}; every dimension must be ≥ 1"
        )));
    }
    Ok(dims.into_iter().map(|d| d as usize).collect())
}

impl Strategy {
    /// The trainer (a poisoned lock only follows a panic, which aborts the call anyway).
    pub(crate) fn trainer(&self) -> MutexGuard<'_, Trainer> {
        self.trainer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `f` without the GIL, on this strategy's threads.
    fn run<R: Send>(&self, py: Python<'_>, f: impl FnOnce() -> R + Send) -> R {
        let pool = self.pool.as_ref().map(|(_, p)| p.clone());
        py.detach(move || match pool {
            Some(p) => p.install(f),
            None => f(),
        })
    }

    fn members(&self) -> PyResult<&Population> {
        self.population
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("call ask() before tell()/forward_population()"))
    }
}

#[pymethods]
impl Strategy {
    /// `Strategy(kind, shapes, population_size=256, sigma=0.1, learning_rate=0.01, rank=1,
    /// seed=0, optimizer="sgd", maximize=True, init=None)`.
    #[new]
    #[pyo3(signature = (
        kind, shapes, population_size = 256, sigma = 0.1, learning_rate = 0.01, rank = 1,
        seed = 0, optimizer = "sgd", maximize = true, init = None, noise_reuse = 1,
        group_size = 0, freeze_nonlora = false, antithetic = true, scaling = "textbook"
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        kind: &str,
        shapes: &Bound<'_, PyDict>,
        population_size: i64,
        sigma: f32,
        learning_rate: f32,
        rank: i64,
        seed: i64,
        optimizer: &str,
        maximize: bool,
        init: Option<&Bound<'_, PyDict>>,
        noise_reuse: i64,
        group_size: i64,
        freeze_nonlora: bool,
        antithetic: bool,
        scaling: &str,
    ) -> PyResult<Self> {
        let count = |v: i64, name: &str| -> PyResult<usize> {
            usize::try_from(v)
                .map_err(|_| PyValueError::new_err(format!("`{name}` is {v}; must be ≥ 0")))
        };
        if shapes.is_empty() {
            return Err(PyValueError::new_err("`shapes` is empty"));
        }
        let mut named = Vec::new();
        for (k, v) in shapes.iter() {
            let name: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err("`shapes` keys must be strings"))?;
            named.push((name.clone(), shape_of(&name, &v)?));
        }
        let init = match init {
            None => None,
            Some(d) => {
                let mut values = Vec::new();
                for (name, dims) in &named {
                    let v = d.get_item(name)?.ok_or_else(|| {
                        PyValueError::new_err(format!("`init` has no array `{name}`"))
                    })?;
                    let a = f32_array(py, &v, "init")?;
                    if a.shape() != dims.as_slice() {
                        return Err(PyValueError::new_err(format!(
                            "`init` `{name}` has shape {:?}, `shapes` says {dims:?}",
                            a.shape()
                        )));
                    }
                    values.push(a.as_slice()?.to_vec());
                }
                Some(values)
            }
        };
        let spec = Spec {
            kind: kind.to_string(),
            shapes: named,
            population_size: count(population_size, "population_size")?,
            sigma,
            learning_rate,
            rank: count(rank, "rank")?,
            seed: count(seed, "seed")? as u64,
            optimizer: optimizer.to_string(),
            maximize,
            noise_reuse: count(noise_reuse, "noise_reuse")? as u64,
            group_size: count(group_size, "group_size")?,
            freeze_nonlora,
            antithetic,
            scaling: scaling.to_string(),
        };
        let trainer = Mutex::new(spec.build(init)?);
        Ok(Self {
            spec,
            trainer,
            population: None,
            base: None,
            pool: None,
        })
    }

    /// Propose the next generation. Returns `{name: array (N, *shape)}` with every member's
    /// parameters, or None with `materialize=False` (then use `Policy.forward_population`).
    #[pyo3(signature = (materialize = true))]
    fn ask(&mut self, py: Python<'_>, materialize: bool) -> PyResult<Option<Py<PyDict>>> {
        let trainer = &self.trainer;
        let pop = self
            .run(py, || {
                trainer.lock().unwrap_or_else(|e| e.into_inner()).ask()
            })
            .map_err(core_err)?;
        let out = if materialize {
            let guard = self.trainer();
            let params = guard.params();
            let shapes = &self.spec.shapes;
            let buffers = self
                .run(py, || -> eggroll_core::Result<Vec<Vec<f32>>> {
                    let base = params.to_host()?;
                    let mut bufs: Vec<Vec<f32>> = base
                        .iter()
                        .map(|b| Vec::with_capacity(b.len() * pop.size))
                        .collect();
                    let mut member = vec![Vec::new(); base.len()];
                    for k in 0..pop.size {
                        pop.materialize_into(params, &base, k, &mut member)?;
                        for (buf, m) in bufs.iter_mut().zip(&member) {
                            buf.extend_from_slice(m);
                        }
                    }
                    Ok(bufs)
                })
                .map_err(core_err)?;
            let dict = PyDict::new(py);
            for ((name, dims), buf) in shapes.iter().zip(buffers) {
                let mut full = vec![pop.size];
                full.extend(dims);
                dict.set_item(name, array(py, buf, &full)?)?;
            }
            Some(dict.unbind())
        } else {
            None
        };
        self.population = Some(pop);
        self.base = None;
        Ok(out)
    }

    /// Update from the fitness of every member of the last `ask` (higher is better unless
    /// the strategy was built with `maximize=False`).
    fn tell(&mut self, py: Python<'_>, fitness: &Bound<'_, PyAny>) -> PyResult<()> {
        let f = f32_array(py, fitness, "fitness")?;
        let pop = self.members()?.clone();
        if f.ndim() != 1 || f.shape()[0] != pop.size {
            return Err(PyValueError::new_err(format!(
                "`fitness` has shape {:?}; expected ({},) — one value per member",
                f.shape(),
                pop.size
            )));
        }
        let mut v = f.as_slice()?.to_vec();
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "`fitness`[{i}] is {}; every fitness must be finite",
                v[i]
            )));
        }
        if !self.spec.maximize {
            for x in &mut v {
                *x = -*x;
            }
        }
        let trainer = &self.trainer;
        self.run(py, || {
            trainer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .tell(&pop, v)
        })
        .map_err(core_err)?;
        self.population = None;
        self.base = None;
        Ok(())
    }

    /// The noise of the last `ask`, unscaled, for evaluating members without materialising
    /// them: `(block, sign, {name: entry})`. Member `i` uses noise block `block[i]` (int64)
    /// with sign `sign[i]` (float32, ±1) and its value of parameter `name` is
    /// `θ + σ·sign[i]·E[block[i]]`, where the entry is `("lowrank", A, B)` with
    /// `E_k = A_k B_kᵀ/√r` (`A` `(K, m, r)`, `B` `(K, n, r)`), `("full", eps)` with `eps`
    /// `(K, *shape)`, or `("none",)` for a frozen parameter.
    fn noise(&self, py: Python<'_>) -> PyResult<Py<PyTuple>> {
        let pop = self.members()?;
        let n = pop.size;
        let block: Vec<i64> = (0..n).map(|i| pop.noise_index(i) as i64).collect();
        let sign: Vec<f32> = (0..n).map(|i| pop.sign(i)).collect();
        let dict = PyDict::new(py);
        let host = |t: &Tensor| -> PyResult<Vec<f32>> {
            t.flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))
        };
        for ((name, dims), noise) in self.spec.shapes.iter().zip(&pop.noise) {
            let entry = match noise {
                Noise::None => PyTuple::new(py, ["none"])?.into_any(),
                Noise::LowRank { a, b, .. } => {
                    let (ad, bd) = (a.dims().to_vec(), b.dims().to_vec());
                    let a = array(py, host(a)?, &ad)?;
                    let b = array(py, host(b)?, &bd)?;
                    PyTuple::new(py, ["lowrank".into_pyobject(py)?.into_any(), a, b])?.into_any()
                }
                Noise::Full { eps } => {
                    let mut full = vec![eps.dims()[0]];
                    full.extend(dims);
                    let e = array(py, host(eps)?, &full)?;
                    PyTuple::new(py, ["full".into_pyobject(py)?.into_any(), e])?.into_any()
                }
            };
            dict.set_item(name, entry)?;
        }
        let block = array(py, block, &[n])?;
        let sign = array(py, sign, &[n])?;
        Ok(PyTuple::new(py, [block, sign, dict.into_any()])?.unbind())
    }

    /// Member `i` of the last `ask`, `{name: array}`: exactly the values `ask()` materialises
    /// (and the ones `tell` credits), without materialising the others.
    fn member(&mut self, py: Python<'_>, i: i64) -> PyResult<Py<PyDict>> {
        let size = self.members()?.size;
        let i = usize::try_from(i)
            .ok()
            .filter(|&i| i < size)
            .ok_or_else(|| {
                PyValueError::new_err(format!("`i` is {i}; the population has members 0..{size}"))
            })?;
        if self.base.is_none() {
            let host = self.trainer().params().to_host().map_err(core_err)?;
            self.base = Some(host);
        }
        let (pop, base) = (self.members()?, self.base.as_ref().expect("set above"));
        let guard = self.trainer();
        let params = guard.params();
        let values = self
            .run(py, || pop.materialize(params, base, i))
            .map_err(core_err)?;
        let dict = PyDict::new(py);
        for ((name, dims), v) in self.spec.shapes.iter().zip(values) {
            dict.set_item(name, array(py, v, dims)?)?;
        }
        Ok(dict.unbind())
    }

    /// The current (mean) parameters, `{name: array}`.
    #[getter]
    fn mean(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let dict = PyDict::new(py);
        let host = self.trainer().params().to_host().map_err(core_err)?;
        for ((name, dims), v) in self.spec.shapes.iter().zip(host) {
            dict.set_item(name, array(py, v, dims)?)?;
        }
        Ok(dict.unbind())
    }

    /// The threads `ask`, `tell` and `member` use: None (the default) shares the process's
    /// pool (`RAYON_NUM_THREADS` or one per core). Set a number to give this strategy its
    /// own pool, e.g. 1 beside a library whose own worker threads keep spinning after each
    /// call (torch's OpenMP workers on the CPU). The results are the same bits whatever the
    /// number.
    #[getter]
    fn threads(&self) -> Option<usize> {
        self.pool.as_ref().map(|(n, _)| *n)
    }

    #[setter]
    fn set_threads(&mut self, threads: Option<i64>) -> PyResult<()> {
        self.pool = match threads {
            None => None,
            Some(n) if n >= 1 => {
                let n = n as usize;
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| PyRuntimeError::new_err(format!("`threads`: {e}")))?;
                Some((n, Arc::new(pool)))
            }
            Some(n) => {
                return Err(PyValueError::new_err(format!(
                    "`threads` is {n}; must be ≥ 1 or None"
                )));
            }
        };
        Ok(())
    }

    /// Generations told so far.
    #[getter]
    fn generation(&self) -> u64 {
        self.trainer().generation()
    }

    /// Members per generation.
    #[getter]
    fn population_size(&self) -> usize {
        self.trainer().strategy().population_size()
    }

    /// σ of the next generation (CMA-ES: its adapted step size).
    #[getter]
    fn sigma(&self) -> f32 {
        let t = self.trainer();
        t.strategy().sigma(t.generation())
    }

    /// The strategy's name.
    #[getter]
    fn kind(&self) -> String {
        self.trainer().strategy().name().to_string()
    }

    /// The parameter shapes, `{name: tuple}`.
    #[getter]
    fn shapes(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let dict = PyDict::new(py);
        for (name, dims) in &self.spec.shapes {
            dict.set_item(name, PyTuple::new(py, dims)?)?;
        }
        Ok(dict.unbind())
    }

    /// Save everything (parameters, strategy state, counters) to `path` (safetensors),
    /// atomically. A generation asked but not told is not saved: ask again after loading.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let spec = serde_json::to_string(&self.spec).expect("plain struct");
        let caller = serde_json::json!({ SPEC_KEY: spec }).to_string();
        let trainer = &self.trainer;
        py.detach(|| {
            trainer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .save_checkpoint_with(&path, Some(caller))
        })
        .map_err(core_err)
    }

    /// Load a strategy saved by `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let caller = eggroll_core::checkpoint::read_caller_state(&path)
            .map_err(core_err)?
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{}: not a file written by Strategy.save",
                    path.display()
                ))
            })?;
        let spec: Spec = serde_json::from_str::<serde_json::Value>(&caller)
            .ok()
            .and_then(|v| v.get(SPEC_KEY)?.as_str().map(str::to_string))
            .and_then(|s| serde_json::from_str(&s).ok())
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{}: not a file written by Strategy.save",
                    path.display()
                ))
            })?;
        let mut trainer = spec.build(None)?;
        py.detach(|| trainer.load_checkpoint(&path))
            .map_err(core_err)?;
        Ok(Self {
            spec,
            trainer: Mutex::new(trainer),
            population: None,
            base: None,
            pool: None,
        })
    }

    fn __repr__(&self) -> String {
        let t = self.trainer();
        format!(
            "Strategy({:?}, population_size={}, generation={}, params={})",
            t.strategy().name(),
            t.strategy().population_size(),
            t.generation(),
            t.params().numel()
        )
    }
}
