//! Named parameter tensors.

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};
use crate::noise::param_id;

/// How a parameter is perturbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A tensor of 2 or more dimensions, seen as the matrix (rows, cols) = (`dims[0]`, the product
    /// of the rest) — `(out, in)` for a linear weight, `(out, in·kh·kw)` for a PyTorch conv
    /// kernel: gets low-rank noise under EGGROLL.
    Matrix {
        /// Number of rows (outputs).
        rows: usize,
        /// Number of columns (inputs).
        cols: usize,
    },
    /// Vectors and scalars (biases, norm gains): get full Gaussian noise.
    Other,
}

/// One named parameter.
#[derive(Debug, Clone)]
pub struct Param {
    name: String,
    id: u64,
    tensor: Tensor,
}

impl Param {
    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Stable noise-stream id, derived from the name ([`crate::noise::param_id`]).
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The current value.
    pub fn tensor(&self) -> &Tensor {
        &self.tensor
    }
    /// Matrix (low-rank noise) or other (full noise).
    pub fn kind(&self) -> ParamKind {
        match self.tensor.dims() {
            [rows, rest @ ..] if !rest.is_empty() => ParamKind::Matrix {
                rows: *rows,
                cols: rest.iter().product(),
            },
            _ => ParamKind::Other,
        }
    }
    /// Number of scalars.
    pub fn numel(&self) -> usize {
        self.tensor.elem_count()
    }
    /// The shape.
    pub fn dims(&self) -> &[usize] {
        self.tensor.dims()
    }
}

/// An ordered set of named f32 tensors on one device: the search space of a strategy.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use eggroll_core::{ParamKind, Params};
/// let mut p = Params::new();
/// p.push("w", Tensor::zeros((4, 3), candle_core::DType::F32, &Device::Cpu).unwrap()).unwrap();
/// p.push("b", Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap()).unwrap();
/// assert_eq!(p.get("w").unwrap().kind(), ParamKind::Matrix { rows: 4, cols: 3 });
/// assert_eq!(p.numel(), 16);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Params {
    params: Vec<Param>,
}

impl Params {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a parameter. Names must be unique and non-empty; tensors must be f32, non-empty and
    /// on the same device as the others.
    pub fn push(&mut self, name: impl Into<String>, tensor: Tensor) -> Result<()> {
        let name = name.into();
        let err = |reason: String| Error::Param {
            name: name.clone(),
            reason,
        };
        if name.is_empty() {
            return Err(err("name is empty".into()));
        }
        if self.get(&name).is_some() {
            return Err(err("a parameter with this name already exists".into()));
        }
        if tensor.dtype() != DType::F32 {
            return Err(err(format!("dtype is {:?}, expected f32", tensor.dtype())));
        }
        if tensor.elem_count() == 0 {
            return Err(err("tensor is empty".into()));
        }
        if let Some(first) = self.params.first()
            && !first.tensor.device().same_device(tensor.device())
        {
            return Err(err("tensor is on a different device".into()));
        }
        let id = param_id(&name);
        if let Some(other) = self.params.iter().find(|p| p.id == id) {
            return Err(err(format!(
                "noise-stream id collides with `{}`; rename one of them",
                other.name
            )));
        }
        let tensor = tensor.contiguous()?;
        self.params.push(Param { name, id, tensor });
        Ok(())
    }

    /// Builder form of [`Params::push`].
    pub fn with(mut self, name: impl Into<String>, tensor: Tensor) -> Result<Self> {
        self.push(name, tensor)?;
        Ok(self)
    }

    /// A parameter by name.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Index of a parameter by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    /// Iterate in insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, Param> {
        self.params.iter()
    }

    /// Number of parameters (tensors).
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Total number of scalars.
    pub fn numel(&self) -> usize {
        self.params.iter().map(Param::numel).sum()
    }

    /// The device of the tensors (CPU when empty).
    pub fn device(&self) -> Device {
        self.params
            .first()
            .map(|p| p.tensor.device().clone())
            .unwrap_or(Device::Cpu)
    }

    /// Replace the value of parameter `index`; the shape must stay the same.
    pub fn set(&mut self, index: usize, tensor: Tensor) -> Result<()> {
        let p = &mut self.params[index];
        if tensor.dims() != p.tensor.dims() || tensor.dtype() != DType::F32 {
            return Err(Error::Param {
                name: p.name.clone(),
                reason: format!(
                    "new value has shape {:?} ({:?}), expected {:?} (F32)",
                    tensor.dims(),
                    tensor.dtype(),
                    p.tensor.dims()
                ),
            });
        }
        p.tensor = tensor.contiguous()?;
        Ok(())
    }

    /// Copy every tensor to host memory, flattened row-major.
    pub fn to_host(&self) -> Result<Vec<Vec<f32>>> {
        self.params
            .iter()
            .map(|p| Ok(p.tensor.flatten_all()?.to_vec1::<f32>()?))
            .collect()
    }

    /// The same parameters on `device` (a copy per tensor; a no-op copy on the same device).
    pub fn to_device(&self, device: &Device) -> Result<Params> {
        let mut out = Params::new();
        for p in &self.params {
            out.push(p.name.clone(), p.tensor.to_device(device)?)?;
        }
        Ok(out)
    }

    /// A parameter set with the same names and shapes holding the given host values.
    pub fn from_host_like(&self, values: &[Vec<f32>]) -> Result<Params> {
        let device = self.device();
        let mut out = Params::new();
        for (p, v) in self.params.iter().zip(values) {
            out.push(
                p.name.clone(),
                Tensor::from_slice(v, p.tensor.dims(), &device)?,
            )?;
        }
        Ok(out)
    }

    /// Check that `other` has the same names, order and shapes.
    pub fn check_same_layout(&self, other: &Params) -> Result<()> {
        if self.len() != other.len() {
            return Err(Error::Param {
                name: "*".into(),
                reason: format!("{} parameters, expected {}", other.len(), self.len()),
            });
        }
        for (a, b) in self.params.iter().zip(&other.params) {
            if a.name != b.name || a.dims() != b.dims() {
                return Err(Error::Param {
                    name: b.name.clone(),
                    reason: format!(
                        "expected `{}` with shape {:?}, found shape {:?}",
                        a.name,
                        a.dims(),
                        b.dims()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Host values of one member's parameters, handed to closure fitness functions.
#[derive(Debug, Clone, Copy)]
pub struct ParamView<'a> {
    params: &'a Params,
    values: &'a [Vec<f32>],
}

impl<'a> ParamView<'a> {
    /// A view of `values` laid out as `params` (one flattened vector per parameter).
    pub fn new(params: &'a Params, values: &'a [Vec<f32>]) -> Self {
        debug_assert_eq!(params.len(), values.len());
        Self { params, values }
    }

    /// Flattened values of a parameter by name.
    pub fn get(&self, name: &str) -> Option<&'a [f32]> {
        self.params
            .index_of(name)
            .map(|i| self.values[i].as_slice())
    }

    /// Flattened values of parameter `i` (insertion order).
    pub fn values(&self, i: usize) -> &'a [f32] {
        &self.values[i]
    }

    /// Shape of a parameter by name.
    pub fn dims(&self, name: &str) -> Option<&'a [usize]> {
        self.params.get(name).map(Param::dims)
    }

    /// Iterate `(name, shape, values)`.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [usize], &'a [f32])> + 'a {
        self.params
            .iter()
            .zip(self.values)
            .map(|(p, v)| (p.name(), p.dims(), v.as_slice()))
    }

    /// All values concatenated in insertion order.
    pub fn flat(&self) -> Vec<f32> {
        self.values.concat()
    }

    /// A parameter as a CPU tensor.
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        let i = self.params.index_of(name).ok_or_else(|| Error::Param {
            name: name.into(),
            reason: "no such parameter".into(),
        })?;
        Ok(Tensor::from_slice(
            &self.values[i],
            self.params.params[i].dims(),
            &Device::Cpu,
        )?)
    }
}
