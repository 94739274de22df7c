//! numpy and error conversions shared by the bindings.

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

/// A float32 C-contiguous copy (or view) of any array-like, or a `TypeError` naming `arg`.
pub fn f32_array<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    arg: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, f32>> {
    let np = py.import("numpy")?;
    let arr = np
        .call_method1("ascontiguousarray", (obj, "float32"))
        .map_err(|e| PyTypeError::new_err(format!("`{arg}` must be a numeric array-like: {e}")))?;
    let arr = arr
        .cast_into::<PyArrayDyn<f32>>()
        .map_err(|e| PyTypeError::new_err(format!("`{arg}`: {e}")))?;
    Ok(arr.readonly())
}

/// A float64 vector from a 1-D array-like, or a `TypeError`/`ValueError` naming `arg`.
pub fn f64_vec(py: Python<'_>, obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<Vec<f64>> {
    let np = py.import("numpy")?;
    let arr = np
        .call_method1("ascontiguousarray", (obj, "float64"))
        .map_err(|e| PyTypeError::new_err(format!("`{arg}` must be a numeric array-like: {e}")))?;
    let arr = arr
        .cast_into::<PyArrayDyn<f64>>()
        .map_err(|e| PyTypeError::new_err(format!("`{arg}`: {e}")))?;
    let ro = arr.readonly();
    if ro.ndim() > 1 {
        return Err(PyValueError::new_err(format!(
            "`{arg}` must be 1-D, got shape {:?}",
            ro.shape()
        )));
    }
    Ok(ro.as_slice()?.to_vec())
}

/// A numpy array of shape `dims` holding `data`.
pub fn array<'py, T: numpy::Element>(
    py: Python<'py>,
    data: Vec<T>,
    dims: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, data)
        .reshape(dims.to_vec())?
        .into_any())
}

/// Core errors: bad configuration or input → `ValueError`, the rest → `RuntimeError`.
pub fn core_err(e: eggroll_core::Error) -> PyErr {
    use eggroll_core::Error as E;
    match e {
        E::InvalidConfig { .. }
        | E::Param { .. }
        | E::FitnessLength { .. }
        | E::NonFiniteFitness { .. }
        | E::Checkpoint { .. } => PyValueError::new_err(e.to_string()),
        E::Io { .. } => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// Run-layer errors: configuration and input → `ValueError`, files → `OSError`.
pub fn run_err(e: eggroll_run::Error) -> PyErr {
    use eggroll_run::Error as E;
    match e {
        E::Core(c) => core_err(c),
        E::Io { .. } => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        E::Config { .. } | E::Input { .. } | E::NotEmpty { .. } | E::NotARun { .. } => {
            PyValueError::new_err(e.to_string())
        }
        other => PyRuntimeError::new_err(other.to_string()),
    }
}
