use candle_core::Device;
use eggroll_core::{Eggroll, EsConfig, Strategy};
use eggroll_policies::{Activation, MlpConfig, PopulationForward};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(4096, |s| s.parse().unwrap());
    let modk: usize = args.get(2).map_or(0, |s| s.parse().unwrap());
    let reps: usize = args.get(3).map_or(300, |s| s.parse().unwrap());
    let mode: usize = args.get(4).map_or(0, |s| s.parse().unwrap());
    let cfg = MlpConfig {
        sizes: vec![4, 64, 64, 2],
        activation: Activation::Tanh,
        bias: true,
    };
    let params = cfg.init(0, &Device::Cpu)?;
    let es = EsConfig {
        population_size: n,
        rank: 1,
        sigma: 0.1,
        ..EsConfig::default()
    };
    let mut strategy = Eggroll::new(es, &params)?;
    let pop = strategy.ask(&params, 0)?;
    let x: Vec<f32> = (0..n * 4).map(|i| ((i % 97) as f32 / 48.0) - 1.0).collect();
    let mut out = vec![0.0f32; n * 2];
    let ids: Vec<u32> = (0..n as u32)
        .map(|i| if modk > 0 { i % modk as u32 } else { i })
        .collect();
    let (mut ti, mut te) = (vec![], vec![]);
    for _ in 0..reps {
        let t = Instant::now();
        if mode != 2 {
            PopulationForward::new(&cfg, &params, None)?.forward(&x, None, &mut out)?;
        }
        ti.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        if mode != 1 {
            PopulationForward::new(&cfg, &params, Some(&pop))?.forward(&x, Some(&ids), &mut out)?;
        }
        te.push(t.elapsed().as_secs_f64());
    }
    ti.sort_by(f64::total_cmp);
    te.sort_by(f64::total_cmp);
    let (a, b) = (ti[reps / 2], te[reps / 2]);
    println!(
        "n={n} modk={modk} inf {:.1}us egg {:.1}us ratio {:.3}",
        a * 1e6,
        b * 1e6,
        a / b
    );
    Ok(())
}
