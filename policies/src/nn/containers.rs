//! Composition: `Sequential` and the residual block `x + f(x)`.

use candle_core::Tensor;
use eggroll_core::Result;
use rayon::prelude::*;

use super::{Act, Ctx, DensePart, Module, ParamRef, TensorParams, shape_err};
use crate::activation::Activation;
use crate::nn::fused::{LayerSource, PopulationForward, check_layer_noise};

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

/// One layer of a dense chain: weight, bias, (outputs, inputs), activation after it.
pub(crate) type ChainLayer<'a> = (
    &'a ParamRef,
    Option<&'a ParamRef>,
    (usize, usize),
    Option<Activation>,
);

impl Sequential {
    /// The dense chain starting at layer `i` on rows of shape `shape`: `Linear` layers over
    /// vector rows, each optionally followed by a tanh or relu, as many as follow each other;
    /// with the index after it. None when layer `i` does not start one.
    pub(crate) fn chain_at(
        &self,
        i: usize,
        shape: &[usize],
    ) -> Option<(Vec<ChainLayer<'_>>, usize)> {
        let mut width = match shape {
            &[w] => w,
            _ => return None,
        };
        let mut chain: Vec<ChainLayer<'_>> = Vec::new();
        let mut j = i;
        while let Some(DensePart::Linear {
            weight,
            bias,
            inputs,
            outputs,
        }) = self.layers.get(j).and_then(|l| l.dense_part())
        {
            if inputs != width {
                break;
            }
            j += 1;
            let act = match self.layers.get(j).and_then(|l| l.dense_part()) {
                Some(DensePart::Act(a)) => {
                    j += 1;
                    Some(a)
                }
                _ => None,
            };
            chain.push((weight, bias, (outputs, inputs), act));
            width = outputs;
        }
        (!chain.is_empty()).then_some((chain, j))
    }

    /// The fused MLP kernel over a dense chain: the same operations as the layers one by
    /// one (the same bits), every row chunk through all of the chain while it is in cache.
    pub(crate) fn chain_forward<'c>(
        chain: &[ChainLayer<'_>],
        params: &'c eggroll_core::Params,
        population: Option<&'c eggroll_core::Population>,
    ) -> Result<PopulationForward<'c>> {
        // Parameters by name (a policy file lists them in its own order), shape-checked.
        let index = |p: &ParamRef| -> Result<usize> {
            params
                .index_of(&p.name)
                .filter(|&i| params.iter().nth(i).is_some_and(|t| t.dims() == p.shape))
                .ok_or_else(|| eggroll_core::Error::Param {
                    name: p.name.clone(),
                    reason: format!(
                        "missing from the parameters (or not of shape {:?})",
                        p.shape
                    ),
                })
        };
        let tensor = |i: usize| params.iter().nth(i).expect("indexed").tensor();
        let mut sources = Vec::with_capacity(chain.len());
        for &(w, b, (m, n), _) in chain {
            let wi = index(w)?;
            let bi = b.map(index).transpose()?;
            if let Some(p) = population {
                check_layer_noise(p, (&w.name, wi), b.map(|b| b.name.as_str()).zip(bi), m, n)?;
            }
            let bias_noise = match (b.zip(bi), population) {
                (Some((b, bi)), Some(p)) => match &p.noise[bi] {
                    eggroll_core::Noise::Full { eps } => Some(eps),
                    eggroll_core::Noise::LowRank { .. } => {
                        return Err(eggroll_core::Error::Param {
                            name: b.name.clone(),
                            reason: "a bias cannot have low-rank noise".into(),
                        });
                    }
                    eggroll_core::Noise::None => None,
                },
                _ => None,
            };
            sources.push(LayerSource {
                w: tensor(wi),
                noise: population.map(|p| &p.noise[wi]),
                bias: bi.map(tensor),
                bias_noise,
                m,
                n,
            });
        }
        let acts = chain.iter().map(|c| c.3).collect();
        PopulationForward::from_sources(sources, acts, population)
    }

    /// Layers `from..` on `x`, in parallel chunks of rows (each chunk through every layer).
    fn forward_from(&self, from: usize, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        // The plan, made once per call: dense chains become one prepared fused forward
        // (weights transposed once), other layers run one by one.
        enum Step<'c> {
            Chain(PopulationForward<'c>),
            Layer(usize),
        }
        let mut steps = Vec::new();
        let mut shape = x.shape.clone();
        let mut i = from;
        while i < self.layers.len() {
            if let Some((chain, next)) = self.chain_at(i, &shape) {
                let fwd = Self::chain_forward(&chain, ctx.params, ctx.population)?;
                shape = vec![fwd.out_dim()];
                steps.push(Step::Chain(fwd));
                i = next;
            } else {
                shape = self.layers[i].out_shape(&shape)?;
                steps.push(Step::Layer(i));
                i += 1;
            }
        }
        if let [Step::Chain(fwd)] = steps.as_slice() {
            // One dense chain (an MLP): its kernel chunks and parallelises the rows itself.
            let mut out = vec![0.0f32; x.rows * fwd.out_dim()];
            fwd.forward(&x.data, Some(ctx.members), &mut out)?;
            return Ok(Act {
                data: out,
                rows: x.rows,
                shape: vec![fwd.out_dim()],
            });
        }
        let run = |x: &Act, ctx: &Ctx<'_>| -> Result<Act> {
            let mut y = x.clone();
            for step in &steps {
                y = match step {
                    Step::Chain(fwd) => {
                        let mut out = vec![0.0f32; y.rows * fwd.out_dim()];
                        fwd.forward(&y.data, Some(ctx.members), &mut out)?;
                        Act {
                            data: out,
                            rows: y.rows,
                            shape: vec![fwd.out_dim()],
                        }
                    }
                    Step::Layer(i) => self.layers[*i].forward(&y, ctx)?,
                };
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
        let data = parts
            .iter()
            .map(|p| p.data.as_slice())
            .collect::<Vec<_>>()
            .concat();
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
    fn dense_chain(&self, input: &[usize]) -> Option<Vec<ChainLayer<'_>>> {
        self.chain_at(0, input)
            .filter(|(_, next)| *next == self.layers.len())
            .map(|(chain, _)| chain)
    }
    fn forward_shared(&self, x: &Act, members: &[u32], ctx: &Ctx<'_>) -> Result<Act> {
        let Some(first) = self.layers.first() else {
            return Ok(x.clone());
        };
        // A whole dense chain on contiguous members: the MLP's shared-input kernel (the
        // first layer's product computed once for all members).
        if let (Some((chain, next)), Some(pop)) = (self.chain_at(0, &x.shape), ctx.population)
            && next == self.layers.len()
            && members.windows(2).all(|w| w[1] == w[0] + 1)
        {
            let fwd = Self::chain_forward(&chain, ctx.params, ctx.population)?;
            let start = members[0] as usize;
            let range = start..start + members.len();
            crate::nn::fused::check_member_range(&range, Some(pop.size))?;
            let mut out = vec![0.0f32; members.len() * x.rows * fwd.out_dim()];
            fwd.forward_shared(&x.data, range, &mut out)?;
            return Ok(Act {
                data: out,
                rows: members.len() * x.rows,
                shape: vec![fwd.out_dim()],
            });
        }
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
