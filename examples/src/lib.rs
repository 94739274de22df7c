//! Runnable examples for eggroll; see `src/bin/`:
//! * `optimize_closure` — optimise any closure with EGGROLL.
//! * `custom_strategy` — write your own [`eggroll_core::Strategy`] and train with it.
