//! Fuzz the IDX parser and dataset validation:
//! `cargo +nightly fuzz run idx` from `envs/` (or `cargo fuzz run idx` with cargo-fuzz).
#![no_main]

use eggroll_envs::mnist::{Dataset, parse_idx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Split the input into an "images" and a "labels" file.
    let cut = data.first().map_or(0, |&b| b as usize).min(data.len());
    let (a, b) = data.split_at(cut);
    let images = parse_idx(a);
    let labels = parse_idx(b);
    if let Ok(i) = &images {
        assert_eq!(i.dims.iter().product::<usize>(), i.data.len());
    }
    if let (Ok(i), Ok(l)) = (images, labels) {
        let _ = Dataset::from_idx(i, l);
    }
});
