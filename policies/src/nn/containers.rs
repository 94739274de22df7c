//! Composition: `Sequential` and the residual block `x + f(x)`.

use candle_core::Tensor;
use eggroll_core::Result;
use rayon::prelude::*;

use super::{Act, Ctx, Module, TensorParams, shape_err};

/// Modules applied in order.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

/// An empty `Sequential`.
pub fn seq() -> Sequential {
    Sequential::default()
}

/// Values of one row chunk's input: chunks this small run the whole stack while their
/// activations stay in cache, and chunks run in parallel.
const CHUNK_VALUES: usize = 16_384;

impl Sequential {
    /// Layers `from..` on `x`, in parallel chunks of rows (each chunk through every layer).
    fn forward_from(&self, from: usize, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let layers = &self.layers[from.min(self.layers.len())..];
        let run = |x: &Act, ctx: &Ctx<'_>| -> Result<Act> {
            let mut it = layers.iter();
            let Some(first) = it.next() else {
                return Ok(x.clone());
            };
            let mut y = first.forward(x, ctx)?;
            for l in it {
                y = l.forward(&y, ctx)?;
            }
            Ok(y)
        };
        let width = x.width().max(1);
        let chunk = (CHUNK_VALUES / width).max(1);
        if x.rows <= chunk {
            return run(x, ctx);
        }
        let parts: Vec<Act> = (0..x.rows)
            .step_by(chunk)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|r0| {
                let rows = chunk.min(x.rows - r0);
                let part = Act {
                    data: x.data[r0 * width..(r0 + rows) * width].to_vec(),
                    rows,
                    shape: x.shape.clone(),
                };
                let sub = Ctx {
                    params: ctx.params,
                    population: ctx.population,
                    members: &ctx.members[r0..r0 + rows],
                    cache: ctx.cache,
                };
                run(&part, &sub)
            })
            .collect::<Result<_>>()?;
        let shape = parts[0].shape.clone();
        let data = parts.into_iter().flat_map(|p| p.data).collect();
        Ok(Act {
            data,
            rows: x.rows,
            shape,
        })
    }

    /// Append a module.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, m: impl Module + 'static) -> Self {
        self.layers.push(Box::new(m));
        self
    }
    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }
    /// Whether it has no modules.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward_tensor(&self, x: &Tensor, params: &TensorParams<'_>) -> Result<Tensor> {
        let mut y = x.clone();
        for l in &self.layers {
            y = l.forward_tensor(&y, params)?;
        }
        Ok(y)
    }
    fn label(&self) -> String {
        format!("sequential of {}", self.layers.len())
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.layers
            .iter()
            .try_fold(input.to_vec(), |s, l| l.out_shape(&s))
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        self.forward_from(0, x, ctx)
    }
    fn forward_shared(&self, x: &Act, members: &[u32], ctx: &Ctx<'_>) -> Result<Act> {
        let Some(first) = self.layers.first() else {
            return Ok(x.clone());
        };
        let y = first.forward_shared(x, members, ctx)?;
        let ids = super::linear::expand_ids(members, x.rows);
        let each = Ctx {
            params: ctx.params,
            population: ctx.population,
            members: &ids,
            cache: ctx.cache,
        };
        self.forward_from(1, &y, &each)
    }
}

/// `x + inner(x)`; `inner` must keep the shape.
pub struct Residual<M> {
    inner: M,
}

/// The residual block around `inner`.
pub fn residual<M: Module>(inner: M) -> Residual<M> {
    Residual { inner }
}

impl<M: Module> Module for Residual<M> {
    fn forward_tensor(&self, x: &Tensor, params: &TensorParams<'_>) -> Result<Tensor> {
        Ok((x + self.inner.forward_tensor(x, params)?)?)
    }
    fn label(&self) -> String {
        format!("residual around {}", self.inner.label())
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let out = self.inner.out_shape(input)?;
        if out != input {
            return Err(shape_err(
                &self.label(),
                format!(
                    "the inner block maps {input:?} to {out:?}; a residual needs the same shape"
                ),
            ));
        }
        Ok(out)
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        self.out_shape(&x.shape)?;
        let mut y = self.inner.forward(x, ctx)?;
        for (a, b) in y.data.iter_mut().zip(&x.data) {
            *a += b;
        }
        Ok(y)
    }
}
