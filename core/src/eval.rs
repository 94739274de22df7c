//! Evaluators: turn a population into one fitness per member.

use std::ops::Range;

use rayon::prelude::*;

use crate::error::Result;
use crate::params::{ParamView, Params};
use crate::population::Population;

/// Evaluates a whole population at once. Batched evaluators (the policies crate) receive the
/// base parameters and the noise handles and never materialise members; [`FnEvaluator`]
/// materialises each member and calls a closure.
pub trait Evaluator: Send {
    /// The fitness of members `members` only, in order (higher is better) — the one method an
    /// evaluator must implement, and what one worker of a distributed run calls for its slice.
    /// It must compute only those members (never the whole population), and a member's
    /// fitness must not depend on which other members are evaluated with it.
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: Range<usize>,
    ) -> Result<Vec<f32>>;

    /// One fitness per member of the whole population, in member order.
    fn evaluate(&mut self, params: &Params, population: &Population) -> Result<Vec<f32>> {
        self.evaluate_members(params, population, 0..population.size)
    }
}

/// Evaluates a closure `Fn(&ParamView) -> f32` on every member's materialised parameters, in
/// parallel with rayon.
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use eggroll_core::{Eggroll, EsConfig, Evaluator, FnEvaluator, Params, Strategy};
/// let params = Params::new()
///     .with("x", Tensor::zeros((4, 4), DType::F32, &Device::Cpu).unwrap())
///     .unwrap();
/// let mut es = Eggroll::new(EsConfig { population_size: 8, ..EsConfig::default() }, &params).unwrap();
/// let mut eval = FnEvaluator::new(|p: &eggroll_core::ParamView| -p.values(0).iter().map(|x| x * x).sum::<f32>());
/// let pop = es.ask(&params, 0).unwrap();
/// let fitness = eval.evaluate(&params, &pop).unwrap();
/// assert_eq!(fitness.len(), 8);
/// ```
pub struct FnEvaluator<F> {
    f: F,
}

impl<F> FnEvaluator<F>
where
    F: Fn(&ParamView) -> f32 + Send + Sync,
{
    /// Wrap a fitness closure.
    pub fn new(f: F) -> Self {
        Self { f }
    }

    /// Evaluate the closure on explicit parameter values (e.g. the unperturbed mean).
    pub fn call(&self, params: &Params, values: &[Vec<f32>]) -> f32 {
        (self.f)(&ParamView::new(params, values))
    }
}

impl<F> Evaluator for FnEvaluator<F>
where
    F: Fn(&ParamView) -> f32 + Send + Sync,
{
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: Range<usize>,
    ) -> Result<Vec<f32>> {
        let base = params.to_host()?;
        let f = &self.f;
        members
            .into_par_iter()
            .map_init(
                || vec![Vec::new(); params.len()],
                |buf, i| {
                    population.materialize_into(params, &base, i, buf)?;
                    Ok(f(&ParamView::new(params, buf)))
                },
            )
            .collect()
    }
}
