//! `eggroll.Policy`: an MLP whose whole population runs in one batched low-rank forward.

use candle_core::Device;
use eggroll_policies::{Activation, MlpConfig, PopulationForward};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::convert::{array, core_err, f32_array};
use crate::strategy::Strategy;

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Argmax,
    Tanh { low: Vec<f32>, high: Vec<f32> },
    Raw,
}

/// An MLP policy `sizes[0] → … → sizes[-1]` (PyTorch `nn.Linear` layout, parameters
/// `layers.{l}.weight` and `layers.{l}.bias`).
#[pyclass(module = "eggroll", frozen)]
pub struct Policy {
    config: MlpConfig,
    action: Action,
}

impl Policy {
    /// The forward of `obs` with `es`'s parameters: every member's perturbation
    /// (`population`, row i for member i) or the mean parameters.
    fn run(
        &self,
        py: Python<'_>,
        es: &Bound<'_, Strategy>,
        obs: &Bound<'_, PyAny>,
        population: bool,
    ) -> PyResult<Py<PyAny>> {
        let es = es.borrow();
        let pop = if population {
            let pop = es.population.as_ref().ok_or_else(|| {
                PyValueError::new_err(
                    "`es` has no population: call es.ask(materialize=False) first",
                )
            })?;
            Some(pop)
        } else {
            None
        };
        let (x, rows) = self.obs(py, obs)?;
        if let Some(pop) = pop
            && rows != pop.size
        {
            return Err(PyValueError::new_err(format!(
                "`obs` has {rows} rows; the population has {} members (row i is member i)",
                pop.size
            )));
        }
        let guard = es.trainer();
        let params = guard.params();
        self.config.check_params(params).map_err(|e| {
            PyValueError::new_err(format!("`es` does not hold this policy's parameters: {e}"))
        })?;
        let xs = x.as_slice()?;
        let dout = *self.config.sizes.last().expect("validated");
        let config = &self.config;
        let out = py
            .detach(|| -> eggroll_core::Result<Vec<f32>> {
                let fwd = PopulationForward::new(config, params, pop)?;
                let mut out = vec![0.0f32; rows * dout];
                fwd.forward(xs, None, &mut out)?;
                Ok(out)
            })
            .map_err(core_err)?;
        self.act(py, out, rows)
    }

    fn act(&self, py: Python<'_>, out: Vec<f32>, rows: usize) -> PyResult<Py<PyAny>> {
        let dout = *self.config.sizes.last().expect("validated");
        Ok(match &self.action {
            Action::Argmax => {
                let a: Vec<i64> = out
                    .chunks(dout)
                    .map(eggroll_policies::Head::argmax)
                    .collect();
                array(py, a, &[rows])?.unbind()
            }
            Action::Tanh { low, high } => {
                let a: Vec<f32> = out
                    .chunks(dout)
                    .flat_map(|row| {
                        row.iter().enumerate().map(|(j, y)| {
                            let t = y.tanh();
                            if low.is_empty() {
                                t
                            } else {
                                low[j] + (t + 1.0) * 0.5 * (high[j] - low[j])
                            }
                        })
                    })
                    .collect();
                array(py, a, &[rows, dout])?.unbind()
            }
            Action::Raw => array(py, out, &[rows, dout])?.unbind(),
        })
    }

    fn obs<'py>(
        &self,
        py: Python<'py>,
        obs: &Bound<'py, PyAny>,
    ) -> PyResult<(numpy::PyReadonlyArrayDyn<'py, f32>, usize)> {
        use numpy::PyUntypedArrayMethods;
        let x = f32_array(py, obs, "obs")?;
        let din = self.config.sizes[0];
        if x.ndim() != 2 || x.shape()[1] != din {
            return Err(PyValueError::new_err(format!(
                "`obs` has shape {:?}; expected (rows, {din})",
                x.shape()
            )));
        }
        let rows = x.shape()[0];
        Ok((x, rows))
    }
}

#[pymethods]
impl Policy {
    /// `Policy(sizes, activation="tanh", bias=True, action="argmax", low=None, high=None)`;
    /// `action`: "argmax" (discrete: int64 actions), "tanh" (continuous: tanh of the outputs,
    /// scaled to [low, high] when given) or "none" (the raw outputs).
    #[new]
    #[pyo3(signature = (sizes, activation = "tanh", bias = true, action = "argmax", low = None, high = None))]
    fn new(
        sizes: Vec<i64>,
        activation: &str,
        bias: bool,
        action: &str,
        low: Option<Vec<f32>>,
        high: Option<Vec<f32>>,
    ) -> PyResult<Self> {
        if sizes.len() < 2 || sizes.iter().any(|&s| s <= 0) {
            return Err(PyValueError::new_err(format!(
                "`sizes` is {sizes:?}; needs an input and an output size, all ≥ 1"
            )));
        }
        let config = MlpConfig {
            sizes: sizes.iter().map(|&s| s as usize).collect(),
            activation: Activation::from_name(activation).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "`activation` `{activation}` is unknown; valid: {}",
                    Activation::NAMES.join(", ")
                ))
            })?,
            bias,
        };
        config.validate().map_err(core_err)?;
        let dout = *config.sizes.last().expect("validated");
        let action = match action {
            "argmax" => Action::Argmax,
            "none" => Action::Raw,
            "tanh" => match (low, high) {
                (None, None) => Action::Tanh {
                    low: Vec::new(),
                    high: Vec::new(),
                },
                (Some(l), Some(h)) if l.len() == dout && h.len() == dout => {
                    if l.iter()
                        .zip(&h)
                        .any(|(a, b)| a.partial_cmp(b) != Some(std::cmp::Ordering::Less))
                    {
                        return Err(PyValueError::new_err("`low` must be < `high` everywhere"));
                    }
                    Action::Tanh { low: l, high: h }
                }
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "`low` and `high` must both be given, with {dout} values each"
                    )));
                }
            },
            other => {
                return Err(PyValueError::new_err(format!(
                    "`action` `{other}` is unknown; valid: argmax, tanh, none"
                )));
            }
        };
        Ok(Self { config, action })
    }

    /// The parameter shapes, `{name: tuple}` (pass to `Strategy(shapes=...)`).
    #[getter]
    fn shapes(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let dict = PyDict::new(py);
        for l in 0..self.config.num_layers() {
            let (w, b) = MlpConfig::names(l);
            let (n, m) = (self.config.sizes[l], self.config.sizes[l + 1]);
            dict.set_item(w, PyTuple::new(py, [m, n])?)?;
            if self.config.bias {
                dict.set_item(b, PyTuple::new(py, [m])?)?;
            }
        }
        Ok(dict.unbind())
    }

    /// Initial parameters (PyTorch's `nn.Linear` default), `{name: array}` (pass to
    /// `Strategy(init=...)`).
    #[pyo3(signature = (seed = 0))]
    fn init(&self, py: Python<'_>, seed: u64) -> PyResult<Py<PyDict>> {
        let params = self.config.init(seed, &Device::Cpu).map_err(core_err)?;
        let dict = PyDict::new(py);
        for (p, v) in params.iter().zip(params.to_host().map_err(core_err)?) {
            dict.set_item(p.name(), array(py, v, p.dims())?)?;
        }
        Ok(dict.unbind())
    }

    /// Actions of every member of `es`'s current population (after `es.ask(...)`): `obs` has
    /// shape (N, obs_dim), row i for member i. One batched low-rank forward; no member's
    /// weights are formed.
    fn forward_population(
        &self,
        py: Python<'_>,
        es: &Bound<'_, Strategy>,
        obs: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.run(py, es, obs, true)
    }

    /// Actions of the mean parameters of `es` for any number of rows (plain inference).
    fn forward(
        &self,
        py: Python<'_>,
        es: &Bound<'_, Strategy>,
        obs: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.run(py, es, obs, false)
    }

    fn __repr__(&self) -> String {
        format!("Policy(sizes={:?})", self.config.sizes)
    }
}
