//! The one elementwise nonlinearity type: MLP hidden layers (`policy.activation`), the
//! population layers' activation layer ([`crate::nn::Activation`]), the fused CPU kernels and
//! the CUDA kernel all use it.

use serde::{Deserialize, Serialize};

/// An elementwise nonlinearity.
///
/// ```
/// use eggroll_policies::Activation;
/// assert_eq!(Activation::Relu.apply(-1.0), 0.0);
/// assert!((Activation::Tanh.apply(0.5) - 0.5f32.tanh()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Hyperbolic tangent (a fixed rational approximation, see [`eggroll_core::simd::tanh`]).
    #[default]
    Tanh,
    /// max(0, x).
    Relu,
    /// GELU, tanh approximation (PyTorch's `approximate="tanh"`; the tanh is
    /// [`eggroll_core::simd::tanh`], so it vectorises).
    Gelu,
}

impl Activation {
    /// Apply to one value.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Tanh => eggroll_core::simd::tanh(x),
            Activation::Relu => x.max(0.0),
            Activation::Gelu => {
                let c = (2.0f32 / std::f32::consts::PI).sqrt();
                0.5 * x * (1.0 + eggroll_core::simd::tanh(c * (x + 0.044715 * x * x * x)))
            }
        }
    }

    /// Every name, in declaration order.
    pub const NAMES: [&'static str; 3] = ["tanh", "relu", "gelu"];

    /// The activation called `name` (one of [`Activation::NAMES`]).
    pub fn from_name(name: &str) -> Option<Activation> {
        [Activation::Tanh, Activation::Relu, Activation::Gelu]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// The name in configs and layer labels (`tanh`, `relu`, `gelu`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Gelu => "gelu",
        }
    }

    /// candle's op of the same name on a tensor (the device path; candle's tanh and GELU are
    /// its own, not bit-identical to [`Activation::apply`]).
    pub fn tensor(self, x: &candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
        match self {
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.relu(),
            Activation::Gelu => x.gelu(),
        }
    }
}

eggroll_core::multiversion! {
    /// [`Activation::apply`] to every value, vectorised.
    pub(crate) fn apply_all(k: Activation, values: &mut [f32]) {
        match k {
            Activation::Tanh => values.iter_mut().for_each(|v| *v = Activation::Tanh.apply(*v)),
            Activation::Relu => values.iter_mut().for_each(|v| *v = Activation::Relu.apply(*v)),
            Activation::Gelu => values.iter_mut().for_each(|v| *v = Activation::Gelu.apply(*v)),
        }
    }
}
