//! The population forward pass: every member's perturbed network on its own input row, in one
//! batched pass, without ever forming `W + σE`.
//!
//! For each layer and a chunk of rows: one GEMM `Y = X Wᵀ` shared by all members (the cost of
//! plain batched inference), then a fused pass per row adding the member's low-rank correction
//! `(σ s_i/√r)(x_i B_i) A_iᵀ`, the bias `b + σ s_i ε_i` and the activation. Chunks of rows run
//! in parallel with rayon and go through all layers while they are hot in cache. The same code
//! with no population is plain inference.
//!
//! This is the kernel of a dense chain of population layers (`nn::linear` with tanh, relu or
//! gelu between them): `nn::Sequential` prepares it for such runs of layers, and
//! [`PopulationForward::new`] for an [`crate::MlpConfig`] builds it from
//! [`crate::MlpConfig::model`].

use candle_core::Tensor;
use eggroll_core::population::HostData;
use eggroll_core::{Error, Noise, Pairing, Population, Result};
use rayon::prelude::*;

use crate::activation::Activation;

mod rows;
pub use rows::shared_gemm;
pub(crate) use rows::{RowCtx, RowNoise, finish_rows};

/// Rows per parallel task.
const CHUNK: usize = 64;

enum MatNoise<'a> {
    None,
    LowRank {
        a: HostData<'a>,
        b: HostData<'a>,
        r: usize,
    },
    Full(HostData<'a>),
}

struct Layer<'a> {
    /// Wᵀ (n × m), transposed once when the forward is prepared.
    wt: Vec<f32>,
    b: Option<HostData<'a>>,
    m: usize,
    n: usize,
    noise: MatNoise<'a>,
    bias_noise: Option<HostData<'a>>,
}

/// A prepared population forward: host views of the weights and of the generation's noise
/// (borrowed, not copied, on the CPU). Build once per generation, call [`forward`] at every
/// environment step.
///
/// [`forward`]: PopulationForward::forward
pub struct PopulationForward<'a> {
    /// Widths: input, then every layer's output.
    sizes: Vec<usize>,
    /// Every layer's activation (None: linear).
    acts: Vec<Option<Activation>>,
    layers: Vec<Layer<'a>>,
    sigma: f32,
    pairing: Pairing,
    perturbed: bool,
    /// Members of the population (None: plain inference).
    size: Option<usize>,
}

fn noise_view(n: Option<&Noise>) -> Result<MatNoise<'_>> {
    Ok(match n {
        None | Some(Noise::None) => MatNoise::None,
        Some(Noise::LowRank { rank, a, b }) => MatNoise::LowRank {
            a: HostData::new(a)?,
            b: HostData::new(b)?,
            r: *rank,
        },
        Some(Noise::Full { eps }) => MatNoise::Full(HostData::new(eps)?),
    })
}

/// One layer's parameters and this generation's noise for them, looked up by name.
pub(crate) struct LayerSource<'a> {
    /// Weight `(m, n)`.
    pub w: &'a Tensor,
    /// The weight's noise (None: plain inference).
    pub noise: Option<&'a Noise>,
    /// Bias `(m)`.
    pub bias: Option<&'a Tensor>,
    /// The bias's full noise `(K, m)` (None when frozen or plain inference).
    pub bias_noise: Option<&'a Tensor>,
    /// Outputs.
    pub m: usize,
    /// Inputs.
    pub n: usize,
}

/// One noise entry per parameter (`params` of them) and at least one member.
pub(crate) fn check_population_size(params: usize, p: &Population) -> Result<()> {
    if p.noise.len() != params {
        return Err(Error::Param {
            name: "population.noise".into(),
            reason: format!("{} entries for {params} parameters", p.noise.len()),
        });
    }
    if p.size == 0 {
        return Err(Error::Param {
            name: "population.size".into(),
            reason: "is 0".into(),
        });
    }
    Ok(())
}

/// The noise shapes of one `(m, n)` layer: its weight `(name, index)` and bias.
pub(crate) fn check_layer_noise(
    p: &Population,
    weight: (&str, usize),
    bias: Option<(&str, usize)>,
    m: usize,
    n: usize,
) -> Result<()> {
    let bad = |name: &str, reason: String| Error::Param {
        name: name.to_string(),
        reason,
    };
    let blocks = p.pairing.block_and_sign(p.size.max(1) - 1).0 + 1;
    let check = |name: &str, t: &Tensor, want: &[usize]| -> Result<()> {
        let d = t.dims();
        if d.len() != want.len() + 1 || d[1..] != *want || d[0] < blocks {
            return Err(bad(
                name,
                format!(
                    "noise of shape {d:?}; expected (K ≥ {blocks}, {})",
                    want.iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(())
    };
    let (wn, wi) = weight;
    match &p.noise[wi] {
        Noise::None => {}
        Noise::LowRank { rank, a, b } => {
            if *rank == 0 {
                return Err(bad(wn, "low-rank noise of rank 0".into()));
            }
            check(wn, a, &[m, *rank])?;
            check(wn, b, &[n, *rank])?;
        }
        Noise::Full { eps } => check(wn, eps, &[m * n])?,
    }
    if let Some((bn, bi)) = bias
        && let Noise::Full { eps } = &p.noise[bi]
    {
        check(bn, eps, &[m])?;
    }
    Ok(())
}

/// Checks that every member id a caller passes exists in the population (`size`; None is plain
/// inference, where ids are not used). Without ids, row `i` is member `i`, so `rows ≤ size`.
pub(crate) fn check_members(
    members: Option<&[u32]>,
    rows: usize,
    size: Option<usize>,
) -> Result<()> {
    let Some(size) = size else { return Ok(()) };
    let bad = match members {
        Some(ids) => ids
            .iter()
            .find(|&&m| m as usize >= size)
            .map(|&m| m as usize),
        None => (rows > size).then_some(rows - 1),
    };
    match bad {
        Some(m) => Err(Error::Param {
            name: "members".into(),
            reason: format!("member id {m} is out of range for a population of {size}"),
        }),
        None => Ok(()),
    }
}

/// Checks a range of members against the population size (None: plain inference).
pub(crate) fn check_member_range(
    members: &std::ops::Range<usize>,
    size: Option<usize>,
) -> Result<()> {
    if let Some(size) = size
        && members.end > size
    {
        return Err(Error::Param {
            name: "members".into(),
            reason: format!(
                "members {}..{} are out of range for a population of {size}",
                members.start, members.end
            ),
        });
    }
    Ok(())
}

impl<'a> PopulationForward<'a> {
    /// Prepare the forward of a chain of dense layers (checked sources, e.g. a `Linear`
    /// stack of [`crate::nn`]) with their activations.
    pub(crate) fn from_sources(
        sources: Vec<LayerSource<'a>>,
        acts: Vec<Option<Activation>>,
        population: Option<&'a Population>,
    ) -> Result<Self> {
        let mut layers = Vec::with_capacity(sources.len());
        let mut sizes = vec![sources.first().map_or(0, |s| s.n)];
        for src in sources {
            let (m, n) = (src.m, src.n);
            let w = HostData::new(src.w)?;
            let ws = w.as_slice();
            let mut wt = vec![0.0f32; m * n];
            for k in 0..m {
                for j in 0..n {
                    wt[j * m + k] = ws[k * n + j];
                }
            }
            sizes.push(m);
            layers.push(Layer {
                wt,
                b: src.bias.map(HostData::new).transpose()?,
                m,
                n,
                noise: noise_view(src.noise)?,
                bias_noise: src.bias_noise.map(HostData::new).transpose()?,
            });
        }
        Ok(Self {
            sizes,
            acts,
            layers,
            sigma: population.map_or(0.0, |p| p.sigma),
            pairing: population.map_or(Pairing::Antithetic, |p| p.pairing),
            perturbed: population.is_some(),
            size: population.map(|p| p.size),
        })
    }

    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.sizes[0]
    }

    /// Output width.
    pub fn out_dim(&self) -> usize {
        *self.sizes.last().expect("validated")
    }

    /// Forward `x` (`rows × in_dim`, row-major) into `out` (`rows × out_dim`). Row `i` belongs to
    /// member `members[i]` (or member `i` when `members` is None). Outputs are pre-head (the
    /// last layer is linear).
    pub fn forward(&self, x: &[f32], members: Option<&[u32]>, out: &mut [f32]) -> Result<()> {
        let (din, dout) = (self.in_dim(), self.out_dim());
        if !x.len().is_multiple_of(din) {
            return Err(Error::Param {
                name: "input".into(),
                reason: format!("{} values is not a whole number of rows of {din}", x.len()),
            });
        }
        let rows = x.len() / din;
        if out.len() != rows * dout {
            return Err(Error::Param {
                name: "output".into(),
                reason: format!("buffer holds {} values, need {rows}×{dout}", out.len()),
            });
        }
        if let Some(m) = members
            && m.len() != rows
        {
            return Err(Error::Param {
                name: "members".into(),
                reason: format!("{} member ids for {rows} rows", m.len()),
            });
        }
        check_members(members, rows, self.size)?;
        let max_w = *self.sizes.iter().max().expect("validated");
        x.par_chunks(CHUNK * din)
            .zip(out.par_chunks_mut(CHUNK * dout))
            .enumerate()
            .for_each_init(
                || (vec![0.0f32; CHUNK * max_w], vec![0.0f32; CHUNK * max_w]),
                |(buf_a, buf_b), (c, (xc, oc))| {
                    let r0 = c * CHUNK;
                    let rows = xc.len() / din;
                    // Borrow the caller's member ids; only the implicit ids are built.
                    let implicit: Vec<u32>;
                    let ids: &[u32] = match members {
                        Some(m) => &m[r0..r0 + rows],
                        None => {
                            implicit = (r0 as u32..(r0 + rows) as u32).collect();
                            &implicit
                        }
                    };
                    self.forward_chunk(0, xc, ids, oc, buf_a, buf_b);
                },
            );
        Ok(())
    }

    /// Run layers `l0..` on a chunk of at most `CHUNK` rows.
    fn forward_chunk(
        &self,
        l0: usize,
        x: &[f32],
        ids: &[u32],
        out: &mut [f32],
        buf_a: &mut [f32],
        buf_b: &mut [f32],
    ) {
        let rows = ids.len();
        let nl = self.layers.len();
        // `src` holds the previous layer's output, `dst` receives the next one.
        let (mut src, mut dst) = (buf_a, buf_b);
        for (l, layer) in self.layers.iter().enumerate().skip(l0) {
            let last = l + 1 == nl;
            let input: &[f32] = if l == l0 { x } else { &src[..rows * layer.n] };
            let target: &mut [f32] = if last {
                &mut *out
            } else {
                &mut dst[..rows * layer.m]
            };
            shared_gemm(input, &layer.wt, rows, layer.n, layer.m, target);
            let ctx = self.row_ctx(l);
            finish_rows(input, ids, target, &ctx);
            std::mem::swap(&mut src, &mut dst);
        }
    }

    fn row_ctx<'s>(&'s self, l: usize) -> RowCtx<'s> {
        let layer = &self.layers[l];
        RowCtx {
            sigma: self.sigma,
            pairing: self.pairing,
            perturbed: self.perturbed,
            m: layer.m,
            n: layer.n,
            bias: layer.b.as_ref().map(HostData::as_slice),
            bias_noise: layer.bias_noise.as_ref().map(HostData::as_slice),
            noise: match &layer.noise {
                MatNoise::None => RowNoise::None,
                MatNoise::LowRank { a, b, r } => RowNoise::LowRank {
                    a: a.as_slice(),
                    b: b.as_slice(),
                    r: *r,
                },
                MatNoise::Full(e) => RowNoise::Full(e.as_slice()),
            },
            act: self.acts[l],
        }
    }

    /// The forward when every member sees the same inputs (common random numbers): `x` is
    /// `batch × in_dim`; `out` receives `members.len() × batch × out_dim`, member-major (row
    /// `i·batch + b` is member `members.start + i` on input `b`).
    ///
    /// The first layer's shared product `X W₀ᵀ` is computed once for all members and its
    /// low-rank corrections as one GEMM `X·B_stack`, so the first layer costs
    /// `batch·in·(m + members·r)` instead of `members·batch·in·m`.
    pub fn forward_shared(
        &self,
        x: &[f32],
        members: std::ops::Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        check_member_range(&members, self.size)?;
        let first = members.start;
        let members = members.len();
        let (din, dout) = (self.in_dim(), self.out_dim());
        if x.is_empty() || !x.len().is_multiple_of(din) {
            return Err(Error::Param {
                name: "input".into(),
                reason: format!("{} values is not a whole number of rows of {din}", x.len()),
            });
        }
        let batch = x.len() / din;
        if out.len() != members * batch * dout {
            return Err(Error::Param {
                name: "output".into(),
                reason: format!(
                    "buffer holds {} values, need {members}×{batch}×{dout}",
                    out.len()
                ),
            });
        }
        let l0 = &self.layers[0];
        let (m, n) = (l0.m, l0.n);
        // H = X W₀ᵀ (batch × m), in parallel row chunks.
        let mut h = vec![0.0f32; batch * m];
        h.par_chunks_mut(CHUNK * m)
            .zip(x.par_chunks(CHUNK * n))
            .for_each(|(hc, xc)| shared_gemm(xc, &l0.wt, xc.len() / n, n, m, hc));
        // T_q = X · B_q for every rank component q (batch × K), K = noise blocks.
        let lowrank = match (&l0.noise, self.perturbed) {
            (MatNoise::LowRank { b, r, .. }, true) => {
                let bs = b.as_slice();
                let k = bs.len() / (n * r);
                let mut t = vec![0.0f32; r * batch * k];
                for q in 0..*r {
                    // B_q laid out (n × K) for the deterministic kernel.
                    let mut bq = vec![0.0f32; n * k];
                    for kk in 0..k {
                        for j in 0..n {
                            bq[j * k + kk] = bs[(kk * n + j) * r + q];
                        }
                    }
                    let tq = &mut t[q * batch * k..(q + 1) * batch * k];
                    tq.par_chunks_mut(CHUNK * k)
                        .zip(x.par_chunks(CHUNK * n))
                        .for_each(|(tc, xc)| shared_gemm(xc, &bq, xc.len() / n, n, k, tc));
                }
                Some((t, k))
            }
            _ => None,
        };
        let last = self.layers.len() == 1;
        let ctx = self.row_ctx(0);
        let max_w = *self.sizes.iter().max().expect("validated");
        out.par_chunks_mut(batch * dout).enumerate().for_each_init(
            || {
                (
                    vec![0.0f32; batch * m],
                    vec![0.0f32; CHUNK * max_w],
                    vec![0.0f32; CHUNK * max_w],
                )
            },
            |(z, buf_a, buf_b), (i, o)| {
                let member = first + i;
                let (blk, sign) = ctx.pairing.block_and_sign(member);
                z.copy_from_slice(&h);
                // Low-rank correction from T: z[b] += c Σ_q T_q[b, blk] A_blk[:, q].
                if let (Some((t, k)), RowNoise::LowRank { a, r, .. }) = (&lowrank, &ctx.noise) {
                    let c = ctx.sigma * sign / (*r as f32).sqrt();
                    let ak = &a[blk * m * r..(blk + 1) * m * r];
                    for b in 0..batch {
                        let zb = &mut z[b * m..(b + 1) * m];
                        for q in 0..*r {
                            let coef = c * t[q * batch * k + b * k + blk];
                            for (zv, kk) in zb.iter_mut().zip(0..m) {
                                *zv += coef * ak[kk * r + q];
                            }
                        }
                    }
                }
                // Full noise (SimpleES), bias, activation: the shared row pass with the
                // low-rank part switched off (already added above).
                let ids = vec![member as u32; batch];
                let rest = RowCtx {
                    noise: match ctx.noise {
                        RowNoise::Full(e) => RowNoise::Full(e),
                        _ => RowNoise::None,
                    },
                    ..ctx.clone()
                };
                finish_rows(x, &ids, z, &rest);
                if last {
                    o.copy_from_slice(z);
                    return;
                }
                for (c0, oc) in (0..batch).step_by(CHUNK).zip(o.chunks_mut(CHUNK * dout)) {
                    let rows = oc.len() / dout;
                    self.forward_chunk(
                        1,
                        &z[c0 * m..(c0 + rows) * m],
                        &ids[..rows],
                        oc,
                        buf_a,
                        buf_b,
                    );
                }
            },
        );
        Ok(())
    }
}
