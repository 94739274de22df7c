//! One module per panel, each an `impl Dashboard` block with its own drawing function.

pub(crate) mod controls;
pub(crate) mod distribution;
pub(crate) mod fitness;
pub(crate) mod live;
pub(crate) mod rank;
