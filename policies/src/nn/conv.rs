//! `Conv2d` (PyTorch's `nn.Conv2d`: weight `out × in × kh × kw`, stride, zero padding),
//! lowered by im2col to the population matrix product of [`super::Linear`]: the kernel is the
//! `out × (in·kh·kw)` matrix that gets low-rank noise.

use candle_core::Tensor;
use eggroll_core::Result;
use rayon::prelude::*;

use super::linear::{expand_ids, population_matmul, shared_matmul};
use super::{Act, Ctx, Init, Module, ParamRef, TensorParams, Vb, shape_err};

/// Largest kernel side accepted.
pub const MAX_KERNEL: usize = 64;

/// A 2-D convolution over rows of shape `[C, H, W]`.
#[derive(Debug, Clone)]
pub struct Conv2d {
    name: String,
    weight: ParamRef,
    bias: Option<ParamRef>,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    padding: usize,
}

/// A square-kernel `Conv2d` named by `vb` (`<prefix>.weight` `out × in × k × k`,
/// `<prefix>.bias`). A kernel of 0 or above [`MAX_KERNEL`], or a stride of 0, is a typed error
/// naming the layer.
pub fn conv2d(
    vb: &Vb,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    bias: bool,
) -> Result<Conv2d> {
    let name = vb.prefix().to_string();
    if kernel == 0 || kernel > MAX_KERNEL {
        return Err(shape_err(
            &format!("conv2d {name}"),
            format!("kernel {kernel}; must be 1..={MAX_KERNEL}"),
        ));
    }
    if stride == 0 {
        return Err(shape_err(
            &format!("conv2d {name}"),
            "stride 0; must be ≥ 1",
        ));
    }
    let fan_in = cin * kernel * kernel;
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    Ok(Conv2d {
        weight: vb.param("weight", &[cout, cin, kernel, kernel], Init::Uniform(bound))?,
        bias: if bias {
            Some(vb.param("bias", &[cout], Init::Uniform(bound))?)
        } else {
            None
        },
        name,
        cin,
        cout,
        k: kernel,
        stride,
        padding,
    })
}

impl Conv2d {
    fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let (hp, wp) = (h + 2 * self.padding, w + 2 * self.padding);
        (hp >= self.k && wp >= self.k).then(|| {
            (
                (hp - self.k) / self.stride + 1,
                (wp - self.k) / self.stride + 1,
            )
        })
    }
}

impl Conv2d {
    /// im2col: row r's patch (oy, ox) is the (c, ky, kx)-ordered window, as PyTorch flattens
    /// its weight. Returns (patch rows, output shape, patches per row, values per patch).
    fn im2col(&self, x: &Act) -> Result<(Vec<f32>, Vec<usize>, usize, usize)> {
        let shape = self.out_shape(&x.shape)?;
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2]);
        let (ho, wo) = (shape[1], shape[2]);
        let (k, s, p) = (self.k, self.stride, self.padding as isize);
        let kk = c * k * k;
        let patches = ho * wo;
        let mut cols = vec![0.0f32; x.rows * patches * kk];
        cols.par_chunks_mut(patches * kk)
            .zip(x.data.par_chunks(c * h * w))
            .for_each(|(dst, img)| {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let d = &mut dst[(oy * wo + ox) * kk..(oy * wo + ox + 1) * kk];
                        let mut q = 0;
                        for ci in 0..c {
                            for ky in 0..k {
                                let iy = (oy * s + ky) as isize - p;
                                for kx in 0..k {
                                    let ix = (ox * s + kx) as isize - p;
                                    d[q] = if iy >= 0
                                        && ix >= 0
                                        && (iy as usize) < h
                                        && (ix as usize) < w
                                    {
                                        img[ci * h * w + iy as usize * w + ix as usize]
                                    } else {
                                        0.0
                                    };
                                    q += 1;
                                }
                            }
                        }
                    }
                }
            });
        Ok((cols, shape, patches, kk))
    }

    /// (patch, channel) → (channel, patch) for each of `rows` rows.
    fn to_channels(&self, y: &[f32], rows: usize, patches: usize, shape: Vec<usize>) -> Act {
        let cout = self.cout;
        let mut out = vec![0.0f32; rows * cout * patches];
        out.par_chunks_mut(cout * patches)
            .zip(y.par_chunks(patches * cout))
            .for_each(|(o, yr)| {
                for q in 0..patches {
                    for ch in 0..cout {
                        o[ch * patches + q] = yr[q * cout + ch];
                    }
                }
            });
        Act {
            data: out,
            rows,
            shape,
        }
    }
}

impl Module for Conv2d {
    fn forward_tensor(&self, x: &Tensor, p: &TensorParams<'_>) -> Result<Tensor> {
        let y = p.conv2d(x, &self.weight, self.padding, self.stride)?;
        Ok(match &self.bias {
            Some(b) => {
                // (cout) or (rows, cout) → broadcast over H, W.
                let v = p.vector(b, 2)?;
                let shape = if v.rank() == 1 {
                    vec![1, self.cout, 1, 1]
                } else {
                    vec![v.dim(0)?, self.cout, 1, 1]
                };
                y.broadcast_add(&v.reshape(shape)?)?
            }
            None => y,
        })
    }
    fn label(&self) -> String {
        format!("conv2d {}", self.name)
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input {
            &[c, h, w] if c == self.cin => match self.out_hw(h, w) {
                Some((ho, wo)) => Ok(vec![self.cout, ho, wo]),
                None => Err(shape_err(
                    &self.label(),
                    format!(
                        "kernel {} is larger than the padded input {}×{}",
                        self.k,
                        h + 2 * self.padding,
                        w + 2 * self.padding
                    ),
                )),
            },
            _ => Err(shape_err(
                &self.label(),
                format!("takes rows of shape [{}, H, W], got {input:?}", self.cin),
            )),
        }
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let (cols, shape, patches, kk) = self.im2col(x)?;
        let ids = expand_ids(ctx.members, patches);
        let y = population_matmul(
            &cols,
            &ids,
            kk,
            self.cout,
            &self.weight,
            self.bias.as_ref(),
            ctx,
        )?;
        Ok(self.to_channels(&y, x.rows, patches, shape))
    }
    fn forward_shared(&self, x: &Act, members: &[u32], ctx: &Ctx<'_>) -> Result<Act> {
        let (cols, shape, patches, kk) = self.im2col(x)?;
        let y = shared_matmul(
            &cols,
            x.rows * patches,
            kk,
            self.cout,
            &self.weight,
            self.bias.as_ref(),
            ctx,
            members,
        )?;
        Ok(self.to_channels(&y, x.rows * members.len(), patches, shape))
    }
}
