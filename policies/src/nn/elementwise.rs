//! Layers without parameters: activations, `Flatten`, max and average pooling.

use candle_core::Tensor;
use eggroll_core::Result;
use rayon::prelude::*;

use super::{Act, Ctx, Module, TensorParams, shape_err};

/// The activation kinds (the crate's one [`crate::Activation`]; `ActKind` is its name here).
pub use crate::activation::Activation as ActKind;

/// An activation layer.
#[derive(Debug, Clone, Copy)]
pub struct Activation(pub ActKind);

/// `tanh`.
pub fn tanh() -> Activation {
    Activation(ActKind::Tanh)
}
/// `relu`.
pub fn relu() -> Activation {
    Activation(ActKind::Relu)
}
/// `gelu` (tanh approximation).
pub fn gelu() -> Activation {
    Activation(ActKind::Gelu)
}

impl Module for Activation {
    fn forward_tensor(&self, x: &Tensor, _: &TensorParams<'_>) -> Result<Tensor> {
        Ok(self.0.tensor(x)?)
    }
    fn label(&self) -> String {
        self.0.name().to_string()
    }
    fn dense_part(&self) -> Option<super::DensePart<'_>> {
        Some(super::DensePart::Act(self.0))
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    fn forward(&self, x: &Act, _: &Ctx<'_>) -> Result<Act> {
        let mut data = x.data.clone();
        let k = self.0;
        data.par_chunks_mut(4096)
            .for_each(|c| crate::activation::apply_all(k, c));
        Ok(Act {
            data,
            rows: x.rows,
            shape: x.shape.clone(),
        })
    }
}

/// Flattens each row to one dimension (PyTorch's `nn.Flatten()`: C, H, W order).
#[derive(Debug, Clone, Copy)]
pub struct Flatten;

/// `Flatten`.
pub fn flatten() -> Flatten {
    Flatten
}

impl Module for Flatten {
    fn forward_tensor(&self, x: &Tensor, _: &TensorParams<'_>) -> Result<Tensor> {
        Ok(x.flatten_from(1)?)
    }
    fn label(&self) -> String {
        "flatten".into()
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(vec![input.iter().product()])
    }
    fn forward(&self, x: &Act, _: &Ctx<'_>) -> Result<Act> {
        Ok(Act {
            data: x.data.clone(),
            rows: x.rows,
            shape: vec![x.width()],
        })
    }
}

/// Max or average.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The window's largest value.
    Max,
    /// The window's mean.
    Avg,
}

/// 2-D pooling over rows of shape `[C, H, W]` (no padding; PyTorch's `MaxPool2d(k, stride)`,
/// `AvgPool2d(k, stride)`).
#[derive(Debug, Clone, Copy)]
pub struct Pool2d {
    kind: PoolKind,
    k: usize,
    stride: usize,
}

/// `MaxPool2d(k, stride)`.
pub fn max_pool2d(k: usize, stride: usize) -> Pool2d {
    Pool2d {
        kind: PoolKind::Max,
        k,
        stride,
    }
}

/// `AvgPool2d(k, stride)`.
pub fn avg_pool2d(k: usize, stride: usize) -> Pool2d {
    Pool2d {
        kind: PoolKind::Avg,
        k,
        stride,
    }
}

impl Module for Pool2d {
    fn forward_tensor(&self, x: &Tensor, _: &TensorParams<'_>) -> Result<Tensor> {
        let (k, s) = (self.k, self.stride);
        if k == s && self.kind == PoolKind::Avg {
            return Ok(x.avg_pool2d_with_stride((k, k), (s, s))?);
        }
        // candle's pooling has no backward for overlapping windows, and its max-pool backward
        // scales the gradient by 1/k² (checked against finite differences in tests/nn.rs):
        // the k² strided views of the input, reduced elementwise.
        let (_, _, h, w) = x.dims4()?;
        let (ho, wo) = ((h - k) / s + 1, (w - k) / s + 1);
        let idx = |off: usize, n: usize| -> Result<Tensor> {
            let v: Vec<u32> = (0..n).map(|i| (off + i * s) as u32).collect();
            Ok(Tensor::from_vec(v, n, x.device())?)
        };
        let mut views = Vec::with_capacity(k * k);
        for dy in 0..k {
            let rows = x.index_select(&idx(dy, ho)?, 2)?;
            for dx in 0..k {
                views.push(rows.index_select(&idx(dx, wo)?, 3)?);
            }
        }
        let stacked = Tensor::stack(&views, 0)?;
        Ok(match self.kind {
            PoolKind::Max => stacked.max(0)?,
            PoolKind::Avg => stacked.mean(0)?,
        })
    }
    fn label(&self) -> String {
        format!(
            "{:?}_pool2d(k={}, stride={})",
            self.kind, self.k, self.stride
        )
        .to_lowercase()
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input {
            &[c, h, w] if self.k >= 1 && self.stride >= 1 && h >= self.k && w >= self.k => {
                Ok(vec![
                    c,
                    (h - self.k) / self.stride + 1,
                    (w - self.k) / self.stride + 1,
                ])
            }
            _ => Err(shape_err(
                &self.label(),
                format!(
                    "needs rows [C, H, W] with H, W ≥ kernel {} (kernel, stride ≥ 1), got {input:?}",
                    self.k
                ),
            )),
        }
    }
    fn forward(&self, x: &Act, _: &Ctx<'_>) -> Result<Act> {
        let shape = self.out_shape(&x.shape)?;
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2]);
        let (ho, wo) = (shape[1], shape[2]);
        let (k, s, kind) = (self.k, self.stride, self.kind);
        let mut out = vec![0.0f32; x.rows * c * ho * wo];
        out.par_chunks_mut(c * ho * wo)
            .zip(x.data.par_chunks(c * h * w))
            .for_each(|(o, img)| {
                for ci in 0..c {
                    for oy in 0..ho {
                        for ox in 0..wo {
                            let mut acc = match kind {
                                PoolKind::Max => f32::NEG_INFINITY,
                                PoolKind::Avg => 0.0,
                            };
                            for ky in 0..k {
                                for kx in 0..k {
                                    let v = img[ci * h * w + (oy * s + ky) * w + ox * s + kx];
                                    acc = match kind {
                                        PoolKind::Max => acc.max(v),
                                        PoolKind::Avg => acc + v,
                                    };
                                }
                            }
                            if kind == PoolKind::Avg {
                                acc /= (k * k) as f32;
                            }
                            o[ci * ho * wo + oy * wo + ox] = acc;
                        }
                    }
                }
            });
        Ok(Act {
            data: out,
            rows: x.rows,
            shape,
        })
    }
}
