//! One call to minimise a closure `f: ℝⁿ → ℝ`: CMA-ES (full or diagonal) with optional IPOP or
//! BIPOP restarts, or EGGROLL / SimpleES on the same closure; box bounds by repair or penalty;
//! a target value and an evaluation budget.
//!
//! ```
//! use eggroll_core::minimize::{minimize, MinimizeOptions};
//! use eggroll_core::StopReason;
//! let rosen = |x: &[f64]| (0..x.len() - 1)
//!     .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
//!     .sum::<f64>();
//! let opts = MinimizeOptions { target: Some(1e-10), max_evals: 50_000, ..Default::default() };
//! let r = minimize(rosen, &[0.0; 5], 0.5, &opts).unwrap();
//! assert_eq!(r.stop, StopReason::Target);
//! assert!((r.x[0] - 1.0).abs() < 1e-4);
//! ```

use candle_core::{Device, Tensor};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

pub use crate::cmaes::Restarts;
use crate::cmaes::{CmaConfig, CmaEs, Covariance, RestartSchedule, default_population};
use crate::error::{Error, Result, config_err};
use crate::optim::OptimizerConfig;
use crate::params::Params;
use crate::strategy::{EsConfig, Strategy, StrategyKind};
use crate::termination::StopReason;
use crate::trainer::NonFinitePolicy;

/// How points outside the bounds are handled (the closure only ever sees points inside).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundHandling {
    /// Redraw a sample outside the box (up to 100 times), then project it onto the box; the
    /// strategy learns from the points evaluated (CMA-ES methods; EGGROLL and SimpleES
    /// evaluate the projection). No point outside the box is ever formed, but progress slows
    /// when the optimum lies on the boundary.
    Repair,
    /// Evaluate the projection and add `weight · ‖x − proj(x)‖²`; the strategy learns from the
    /// unrepaired sample (pycma's default approach). Precise at boundary optima.
    Penalty {
        /// Penalty weight > 0.
        weight: f64,
    },
}

/// Options of [`minimize`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MinimizeOptions {
    /// The algorithm (serialised by its canonical name, e.g. `sep-cmaes`).
    #[serde(with = "crate::strategy::by_name")]
    pub method: StrategyKind,
    /// Samples per generation (0 = the method's default; CMA-ES: `4 + ⌊3 ln n⌋`).
    pub population_size: usize,
    /// Evaluation budget (all restarts together).
    pub max_evals: u64,
    /// Stop as soon as a value ≤ target is seen.
    pub target: Option<f64>,
    /// Restart policy (CMA-ES methods).
    pub restarts: Restarts,
    /// Most restarts (after the first run).
    pub max_restarts: usize,
    /// Seed.
    pub seed: u64,
    /// Box bounds `(lower, upper)`, one pair per coordinate (or one pair for all).
    pub bounds: Option<(Vec<f64>, Vec<f64>)>,
    /// How points outside the bounds are handled.
    pub bound_handling: BoundHandling,
    /// A NaN from the closure: fail (default) or treat it as the worst value of the generation.
    pub nonfinite: NonFinitePolicy,
    /// Where restarts start: `None` = at `x0`; `Some((lo, hi))` = uniform in `[lo, hi]^n`.
    pub restart_region: Option<(f64, f64)>,
    /// EGGROLL / SimpleES learning rate as a multiple of σ₀.
    pub es_lr_factor: f64,
}

impl Default for MinimizeOptions {
    fn default() -> Self {
        Self {
            method: StrategyKind::Cmaes,
            population_size: 0,
            max_evals: 100_000,
            target: None,
            restarts: Restarts::None,
            max_restarts: 9,
            seed: 0,
            bounds: None,
            bound_handling: BoundHandling::Penalty { weight: 1.0 },
            nonfinite: NonFinitePolicy::Error,
            restart_region: None,
            es_lr_factor: 0.1,
        }
    }
}

/// What [`minimize`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinimizeResult {
    /// The best point evaluated (inside the bounds, if any).
    pub x: Vec<f64>,
    /// Its value.
    pub f: f64,
    /// Evaluations used.
    pub evals: u64,
    /// Evaluations when the target was first reached.
    pub evals_to_target: Option<u64>,
    /// Why it stopped.
    pub stop: StopReason,
    /// Restarts performed.
    pub restarts: usize,
}

struct Tracker<'a, F> {
    f: F,
    opts: &'a MinimizeOptions,
    lower: Vec<f64>,
    upper: Vec<f64>,
    evals: u64,
    best_x: Vec<f64>,
    best_f: f64,
    hit: Option<u64>,
}

impl<F: FnMut(&[f64]) -> f64> Tracker<'_, F> {
    fn project(&self, x: &[f64]) -> Vec<f64> {
        if self.lower.is_empty() {
            return x.to_vec();
        }
        x.iter()
            .enumerate()
            .map(|(i, v)| v.clamp(self.lower[i], self.upper[i]))
            .collect()
    }

    /// Evaluate a generation (each point's projection onto the box); returns the values to
    /// tell, with the bound penalty added.
    fn evaluate(&mut self, xs: Vec<Vec<f64>>, generation: u64) -> Result<Vec<f64>> {
        let mut vals = Vec::with_capacity(xs.len());
        for x in xs {
            let p = self.project(&x);
            let mut v = (self.f)(&p);
            self.evals += 1;
            if v.is_nan() {
                match self.opts.nonfinite {
                    NonFinitePolicy::Error => {
                        return Err(Error::NonFiniteFitness {
                            member: vals.len(),
                            generation,
                            value: f32::NAN,
                        });
                    }
                    NonFinitePolicy::Worst => v = f64::INFINITY,
                }
            }
            if v < self.best_f {
                self.best_f = v;
                self.best_x = p.clone();
            }
            if self.hit.is_none()
                && let Some(t) = self.opts.target
                && v <= t
            {
                self.hit = Some(self.evals);
            }
            vals.push(match self.opts.bound_handling {
                BoundHandling::Repair => v,
                BoundHandling::Penalty { weight } => {
                    let d2: f64 = x.iter().zip(&p).map(|(a, b)| (a - b) * (a - b)).sum();
                    v + weight * d2
                }
            });
        }
        // "Worst": +inf → the worst finite value of the generation (ranks stay meaningful).
        let worst = vals
            .iter()
            .cloned()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        if worst.is_finite() {
            for v in &mut vals {
                if *v == f64::INFINITY {
                    *v = worst;
                }
            }
        }
        Ok(vals)
    }

    fn done(&self) -> Option<StopReason> {
        if self.hit.is_some() {
            Some(StopReason::Target)
        } else if self.evals >= self.opts.max_evals {
            Some(StopReason::MaxEvals)
        } else {
            None
        }
    }
}

/// Validate the options against the dimension; returns the expanded bounds.
fn check(x0: &[f64], sigma0: f64, opts: &MinimizeOptions) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = x0.len();
    if n == 0 {
        return Err(config_err("x0", "is empty; the dimension must be ≥ 1"));
    }
    if let Some(i) = x0.iter().position(|v| !v.is_finite()) {
        return Err(config_err(
            "x0",
            format!("coordinate {i} is {}; must be finite", x0[i]),
        ));
    }
    if !(sigma0 > 0.0 && sigma0.is_finite()) {
        return Err(config_err(
            "sigma0",
            format!("is {sigma0}; must be finite and > 0"),
        ));
    }
    if opts.max_evals == 0 {
        return Err(config_err("max_evals", "is 0; must be ≥ 1"));
    }
    if opts.population_size == 1 {
        return Err(config_err(
            "population_size",
            "is 1; must be ≥ 2 (0 = default)",
        ));
    }
    if let BoundHandling::Penalty { weight } = opts.bound_handling
        && !(weight > 0.0 && weight.is_finite())
    {
        return Err(config_err(
            "bound_handling",
            format!("penalty weight is {weight}; must be > 0"),
        ));
    }
    if opts.restarts != Restarts::None && !opts.method.is_cma() {
        return Err(config_err(
            "restarts",
            format!(
                "IPOP/BIPOP restarts are for the CMA-ES strategies (cmaes, sep-cmaes), not `{}`",
                opts.method.name()
            ),
        ));
    }
    if let Some((lo, hi)) = opts.restart_region
        && !(lo < hi && lo.is_finite() && hi.is_finite())
    {
        return Err(config_err(
            "restart_region",
            format!("[{lo}, {hi}] is empty or not finite"),
        ));
    }
    let Some((lo, hi)) = &opts.bounds else {
        return Ok((Vec::new(), Vec::new()));
    };
    let expand = |v: &Vec<f64>, name: &str| -> Result<Vec<f64>> {
        match v.len() {
            1 => Ok(vec![v[0]; n]),
            m if m == n => Ok(v.clone()),
            m => Err(config_err(
                "bounds",
                format!("{name} has {m} values; give 1 or the dimension {n}"),
            )),
        }
    };
    let (lo, hi) = (expand(lo, "lower")?, expand(hi, "upper")?);
    for i in 0..n {
        if lo[i].is_nan() || hi[i].is_nan() || lo[i] > hi[i] {
            return Err(config_err(
                "bounds",
                format!("coordinate {i}: lower {} > upper {} (or NaN)", lo[i], hi[i]),
            ));
        }
    }
    Ok((lo, hi))
}

/// Minimise `f` from `x0` with initial step size `sigma0`.
///
/// Errors name the argument: an empty or non-finite `x0`, `sigma0` ≤ 0, bounds with
/// lower > upper or of the wrong length, `max_evals` = 0, a NaN from `f` (with
/// `nonfinite = Error`).
pub fn minimize<F: FnMut(&[f64]) -> f64>(
    f: F,
    x0: &[f64],
    sigma0: f64,
    opts: &MinimizeOptions,
) -> Result<MinimizeResult> {
    let (lower, upper) = check(x0, sigma0, opts)?;
    let mut t = Tracker {
        f,
        opts,
        lower,
        upper,
        evals: 0,
        best_x: x0.to_vec(),
        best_f: f64::INFINITY,
        hit: None,
    };
    match opts.method {
        StrategyKind::Cmaes | StrategyKind::SepCmaes => run_cma(&mut t, x0, sigma0),
        StrategyKind::Eggroll | StrategyKind::SimpleEs => run_es(&mut t, x0, sigma0),
        StrategyKind::Egg => Err(crate::error::config_err(
            "method",
            "egg trains int8 models (charlm --model egg); minimize a real function with \
             eggroll, simplees, cmaes or sep-cmaes",
        )),
    }
}

fn result<F>(t: &Tracker<'_, F>, stop: StopReason, restarts: usize) -> MinimizeResult {
    MinimizeResult {
        x: t.best_x.clone(),
        f: t.best_f,
        evals: t.evals,
        evals_to_target: t.hit,
        stop,
        restarts,
    }
}

fn run_cma<F: FnMut(&[f64]) -> f64>(
    t: &mut Tracker<'_, F>,
    x0: &[f64],
    sigma0: f64,
) -> Result<MinimizeResult> {
    let opts = t.opts;
    let n = x0.len();
    let covariance = opts.method.covariance().unwrap_or(Covariance::Full);
    let lambda_default = if opts.population_size == 0 {
        default_population(n)
    } else {
        opts.population_size
    };
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x00b1_9a0b);
    let mut schedule = RestartSchedule::new(opts.restarts, lambda_default, sigma0, usize::MAX);
    let (mut lam, mut sigma) = (lambda_default, sigma0);
    let mut start = x0.to_vec();
    loop {
        let restarts = schedule.restarts();
        let config = CmaConfig {
            population_size: lam,
            sigma0: sigma,
            seed: opts.seed.wrapping_add(restarts as u64 * 0x1000_0001),
            covariance,
            ..CmaConfig::default()
        };
        let mut es = CmaEs::new(&start, &config)?;
        let before = t.evals;
        let local = loop {
            let xs = match opts.bound_handling {
                BoundHandling::Repair if !t.lower.is_empty() => es.ask_bounded(&t.lower, &t.upper),
                _ => es.ask(),
            };
            // The points evaluated are the points asked (repair resamples inside the box;
            // the penalty is added to the value), so the update uses the exact samples.
            let vals = t.evaluate(xs, es.generation())?;
            es.tell(&vals)?;
            if let Some(stop) = t.done() {
                return Ok(result(t, stop, restarts));
            }
            if let Some(s) = es.should_stop() {
                break s;
            }
        };
        if opts.restarts == Restarts::None || restarts >= opts.max_restarts {
            return Ok(result(t, StopReason::Converged(local), restarts));
        }
        start = match opts.restart_region {
            Some((lo, hi)) => (0..n).map(|_| rng.random_range(lo..hi)).collect(),
            None => x0.to_vec(),
        };
        (lam, sigma) = schedule.next(t.evals - before, &mut rng);
    }
}

fn run_es<F: FnMut(&[f64]) -> f64>(
    t: &mut Tracker<'_, F>,
    x0: &[f64],
    sigma0: f64,
) -> Result<MinimizeResult> {
    let opts = t.opts;
    let n = x0.len();
    let mut pop = if opts.population_size == 0 {
        default_population(n).max(16)
    } else {
        opts.population_size
    };
    pop += pop % 2;
    let x0f: Vec<f32> = x0.iter().map(|&v| v as f32).collect();
    let mut params = Params::new().with("x", Tensor::from_vec(x0f, (1, n), &Device::Cpu)?)?;
    let config = EsConfig {
        population_size: pop,
        sigma: sigma0 as f32,
        learning_rate: (sigma0 * opts.es_lr_factor) as f32,
        seed: opts.seed,
        optimizer: OptimizerConfig::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        ..EsConfig::default()
    };
    let mut strategy: Box<dyn Strategy> = opts.method.build(&config, &params)?;
    let mut generation = 0u64;
    loop {
        let population = strategy.ask(&params, generation)?;
        let base = vec![
            params
                .get("x")
                .expect("built above")
                .tensor()
                .flatten_all()?
                .to_vec1::<f32>()?,
        ];
        let mut xs = Vec::with_capacity(pop);
        for member in 0..pop {
            let v = population.materialize(&params, &base, member)?;
            xs.push(v[0].iter().map(|&a| f64::from(a)).collect::<Vec<f64>>());
        }
        let vals = t.evaluate(xs, generation)?;
        // ES maximise; ranks are what the default z-score shaping keeps of the sign flip.
        let fitness: Vec<f32> = vals.iter().map(|&v| -(v as f32)).collect();
        let fitness: Vec<f32> = fitness
            .iter()
            .map(|&v| if v.is_finite() { v } else { f32::MIN })
            .collect();
        strategy.tell(&mut params, &population, &fitness)?;
        generation += 1;
        if let Some(stop) = t.done() {
            return Ok(result(t, stop, 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sphere(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).sum()
    }

    #[test]
    fn method_names_round_trip_in_options() {
        let opts = MinimizeOptions {
            method: StrategyKind::SepCmaes,
            ..MinimizeOptions::default()
        };
        let json = serde_json::to_string(&opts).unwrap();
        assert!(json.contains("\"method\":\"sep-cmaes\""), "{json}");
        let back: MinimizeOptions = serde_json::from_str(&json).unwrap();
        assert_eq!(back.method, StrategyKind::SepCmaes);
    }

    #[test]
    fn sphere_reaches_the_target() {
        let opts = MinimizeOptions {
            target: Some(1e-10),
            ..Default::default()
        };
        let r = minimize(sphere, &[1.0; 10], 1.0, &opts).unwrap();
        assert_eq!(r.stop, StopReason::Target);
        assert!(r.f <= 1e-10);
        // The generation that hit the target is finished (at most λ − 1 more evaluations).
        let hit = r.evals_to_target.unwrap();
        assert!(hit <= r.evals && r.evals - hit < 10, "{hit} {}", r.evals);
    }
}
