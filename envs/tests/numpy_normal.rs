//! `Pcg64::standard_normal` against numpy's `Generator.standard_normal`: 3 × 10⁶ draws per
//! check, compared through an FNV-1a hash of their bits (data: `gen_ziggurat.py`).

use eggroll_envs::rng::Pcg64;

#[test]
fn standard_normal_matches_numpy_bit_for_bit() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/numpy_normals.json"
    ))
    .unwrap();
    let data: serde_json::Value = serde_json::from_str(&text).unwrap();
    let checks = data["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3);
    for c in checks {
        let seed = c["seed"].as_u64().unwrap();
        let n = c["n"].as_u64().unwrap() as usize;
        let mut rng = Pcg64::new(seed);
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        let mut tail = 0;
        let mut first = Vec::new();
        for i in 0..n {
            let x = rng.standard_normal();
            if i < 8 {
                first.push(x);
            }
            if x.abs() > 3.654_152_885_361_009 {
                tail += 1;
            }
            h = (h ^ x.to_bits()).wrapping_mul(0x100_0000_01B3);
        }
        let want: Vec<f64> = c["first"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(first, want, "seed {seed}: first draws");
        assert_eq!(
            tail,
            c["tail_draws"].as_u64().unwrap(),
            "seed {seed}: tail draws"
        );
        assert_eq!(
            h,
            c["fnv1a_bits"].as_u64().unwrap(),
            "seed {seed}: hash of all draws"
        );
    }
}
