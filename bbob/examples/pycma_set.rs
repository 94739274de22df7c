//! Scratch: CMA-ES on the pycma comparison set.
use eggroll_bbob::experiment::{RunSpec, run};
use eggroll_core::StrategyKind;
use eggroll_core::minimize::Restarts;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let method = StrategyKind::parse(
        args.get(1).map(|s| s.as_str()).unwrap_or("cmaes"),
        "strategy",
    )
    .unwrap();
    let seeds: u64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(1);
    for f in [1, 2, 8, 10, 11, 12, 13, 14] {
        let mut ok = Vec::new();
        let mut n = 0;
        for i in 1..=3 {
            for s in 1..=seeds {
                n += 1;
                let r = run(&RunSpec {
                    method,
                    function: f,
                    instance: i,
                    dim: 10,
                    budget_per_dim: 10000,
                    restarts: Restarts::None,
                    seed: s,
                })
                .unwrap();
                if let Some(e) = r.evals_to_target {
                    ok.push(e)
                }
            }
        }
        ok.sort();
        println!(
            "ours f{f}: median {:?} succ {}/{n}",
            ok.get(ok.len() / 2),
            ok.len()
        );
    }
}
