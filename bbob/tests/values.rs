//! Every bbob function, instances 1–3, dimensions 2–40, equals COCO 2.8.2 (`cocoex`) to relative
//! 1e-9 on points inside and outside [-5, 5]^d. The fixture `data/bbob_values.json.gz` was
//! recorded with `cocoex` by `scripts/gen-bbob-values.py`.

use std::io::Read;

use eggroll_bbob::Problem;

#[derive(serde::Deserialize)]
struct Case {
    id: String,
    function: usize,
    instance: usize,
    dim: usize,
    points: Vec<Vec<f64>>,
    values: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct Fixture {
    source: String,
    cases: Vec<Case>,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/bbob_values.json.gz"
    );
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("fixture present"))
        .read_to_string(&mut s)
        .expect("gzip json");
    serde_json::from_str(&s).expect("fixture parses")
}

#[test]
fn all_24_functions_match_coco() {
    let f = fixture();
    assert!(f.source.contains("2.8.2"), "{}", f.source);
    assert_eq!(f.cases.len(), 24 * 3 * 6);
    let mut worst = 0.0f64;
    let mut failures = Vec::new();
    for case in &f.cases {
        let p = Problem::new(case.function, case.instance, case.dim).unwrap();
        assert_eq!(p.id(), case.id);
        for (x, &want) in case.points.iter().zip(&case.values) {
            let got = p.evaluate(x);
            let rel = (got - want).abs() / want.abs().max(1e-300);
            worst = worst.max(rel);
            if rel.is_nan() || rel > 1e-9 {
                failures.push(format!(
                    "{}: x0={:.3} got {got} want {want} rel {rel:e}",
                    case.id, x[0]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches (first 20):\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!("worst relative error {worst:e}");
}

#[test]
fn the_optimum_scores_f_opt() {
    for function in 1..=24 {
        for dim in [2, 5, 10, 40] {
            let p = Problem::new(function, 1, dim).unwrap();
            let Some(x) = p.x_opt() else {
                assert_eq!(function, 16, "only Weierstrass has no unique optimum");
                continue;
            };
            let x = x.to_vec();
            let gap = p.evaluate(&x) - p.f_opt();
            assert!(
                gap.abs() <= 1e-8,
                "f{function} d{dim}: f(x_opt) − f_opt = {gap:e}"
            );
            // A step away is worse (all functions but the flat ones at the corner).
            let away: Vec<f64> = x.iter().map(|v| v * 0.9 + 0.05).collect();
            assert!(p.evaluate(&away) > p.f_opt(), "f{function} d{dim}");
        }
    }
}

#[test]
fn bad_arguments_are_typed_errors() {
    use eggroll_bbob::BbobError;
    assert_eq!(Problem::new(0, 1, 2).unwrap_err(), BbobError::Function(0));
    assert_eq!(Problem::new(25, 1, 2).unwrap_err(), BbobError::Function(25));
    assert_eq!(Problem::new(1, 0, 2).unwrap_err(), BbobError::Instance);
    assert_eq!(Problem::new(1, 1, 0).unwrap_err(), BbobError::Dim(0));
    assert_eq!(Problem::new(1, 1, 1).unwrap_err(), BbobError::Dim(1));
    assert_eq!(Problem::new(1, 1, 45).unwrap_err(), BbobError::Dim(45));
    let p = Problem::new(3, 1, 3).unwrap();
    assert_eq!(
        p.evaluate_checked(&[0.0; 2]).unwrap_err(),
        BbobError::PointLength { dim: 3, got: 2 }
    );
    assert!(p.evaluate(&[0.0, f64::NAN, 0.0]).is_nan());
    assert!(
        Problem::new(1, 1, 0)
            .unwrap_err()
            .to_string()
            .contains("`dim`")
    );
}
