//! Composition: `Sequential` and the residual block `x + f(x)`.

use eggroll_core::Result;

use super::{Act, Ctx, Module, shape_err};

/// Modules applied in order.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

/// An empty `Sequential`.
pub fn seq() -> Sequential {
    Sequential::default()
}

impl Sequential {
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
    fn label(&self) -> String {
        format!("sequential of {}", self.layers.len())
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.layers
            .iter()
            .try_fold(input.to_vec(), |s, l| l.out_shape(&s))
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let mut layers = self.layers.iter();
        let Some(first) = layers.next() else {
            return Ok(x.clone());
        };
        let mut y = first.forward(x, ctx)?;
        for l in layers {
            y = l.forward(&y, ctx)?;
        }
        Ok(y)
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
