//! A user-defined model: a small residual CNN written as a new `Module` from the population
//! layers, trained with the library API on a synthetic 4-class image task (which quadrant of
//! an 8×8 image is bright). Every member runs in ONE batched pass
//! (`Model::forward_shared`); for comparison it also times one generation through the slow
//! path a model the user cannot rewrite must take: `FnEvaluator`, materialising every member's
//! parameters and running the plain forward per member.
//!
//! `cargo run --release -p eggroll-examples --bin residual_cnn`

use std::ops::Range;
use std::time::Instant;

use candle_core::Device;
use eggroll_core::noise::mix64;
use eggroll_core::*;
use eggroll_policies::nn::{Act, Ctx, Model, Module, Vb, conv2d, flatten, linear, relu, seq};
use eggroll_run::task::TaskEvaluator;

/// `relu(x + conv_b(relu(conv_a(x))))`: a residual block as its own module.
struct ResBlock {
    conv_a: eggroll_policies::nn::Conv2d,
    conv_b: eggroll_policies::nn::Conv2d,
}

impl ResBlock {
    fn new(vb: &Vb, channels: usize) -> Result<Self> {
        Ok(Self {
            conv_a: conv2d(&vb.pp("conv_a"), channels, channels, 3, 1, 1, true)?,
            conv_b: conv2d(&vb.pp("conv_b"), channels, channels, 3, 1, 1, true)?,
        })
    }
}

impl Module for ResBlock {
    fn label(&self) -> String {
        "res_block".into()
    }
    fn out_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let mid = self.conv_a.out_shape(input)?;
        self.conv_b.out_shape(&mid)
    }
    fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> Result<Act> {
        let h = relu().forward(&self.conv_a.forward(x, ctx)?, ctx)?;
        let mut y = self.conv_b.forward(&h, ctx)?;
        for (a, b) in y.data.iter_mut().zip(&x.data) {
            *a = (*a + b).max(0.0);
        }
        Ok(y)
    }
}

/// Synthetic images: class c lights quadrant c of an 8×8 image, plus noise.
fn images(n: usize, salt: u64) -> (Vec<f32>, Vec<usize>) {
    let mut x = vec![0.0f32; n * 64];
    let mut labels = vec![0; n];
    for i in 0..n {
        let h = mix64(i as u64 ^ salt);
        let c = (h % 4) as usize;
        labels[i] = c;
        for p in 0..64 {
            let noise = (mix64(h ^ p as u64) >> 40) as f32 / (1u64 << 24) as f32;
            let (r, col) = (p / 8, p % 8);
            let lit = (r / 4) * 2 + col / 4 == c;
            x[i * 64 + p] = 0.6 * noise + if lit { 0.5 } else { 0.0 };
        }
    }
    (x, labels)
}

/// Mean log-likelihood of the labels on a fixed batch, all members in one batched pass.
struct Classify {
    model: Model,
    x: Vec<f32>,
    labels: Vec<usize>,
    test: (Vec<f32>, Vec<usize>),
}

fn log_likelihood(y: &[f32], label: usize) -> f32 {
    eggroll_policies::nn::log_softmax_at(y, label) as f32
}

impl Evaluator for Classify {
    fn evaluate_members(
        &mut self,
        params: &Params,
        population: &Population,
        members: Range<usize>,
    ) -> Result<Vec<f32>> {
        let b = self.labels.len();
        let y = self
            .model
            .forward_shared(params, population, &self.x, members)?;
        Ok(y.chunks(b * 4)
            .map(|m| {
                m.chunks(4)
                    .zip(&self.labels)
                    .map(|(y, &l)| log_likelihood(y, l))
                    .sum::<f32>()
                    / b as f32
            })
            .collect())
    }
}

impl TaskEvaluator for Classify {
    /// Accuracy of the mean parameters on held-out images.
    fn final_score(
        &mut self,
        params: &Params,
        _: usize,
        _: u64,
    ) -> eggroll_run::Result<(f64, Option<eggroll_policies::EvalReport>)> {
        let (x, labels) = &self.test;
        let y = self.model.forward(params, None, x, None)?;
        let right = y
            .chunks(4)
            .zip(labels)
            .filter(|(y, l)| {
                let best = (0..4).max_by(|&a, &b| y[a].total_cmp(&y[b])).expect("4");
                best == **l
            })
            .count();
        Ok((right as f64 / labels.len() as f64, None))
    }
    fn score_name(&self) -> &'static str {
        "test_accuracy"
    }
}

fn build() -> anyhow::Result<Model> {
    let vb = Vb::new();
    let net = seq()
        .add(conv2d(&vb.pp("stem"), 1, 4, 3, 1, 1, true)?)
        .add(relu())
        .add(ResBlock::new(&vb.pp("blocks").pp(0), 4)?)
        .add(flatten())
        .add(linear(&vb.pp("head"), 4 * 8 * 8, 4, true)?);
    Ok(Model::new(net, &vb, &[1, 8, 8])?)
}

fn main() -> anyhow::Result<()> {
    let model = build()?;
    println!("parameters (PyTorch names and layouts):");
    for d in model.decls() {
        println!("  {:<24} {:?}", d.name, d.shape);
    }
    let params = model.init(0, &Device::Cpu)?;
    let (x, labels) = images(128, 1);
    let config = EsConfig {
        population_size: 256,
        sigma: 0.05,
        learning_rate: 0.03,
        ..EsConfig::default()
    };
    let mut eval = Classify {
        model: build()?,
        x: x.clone(),
        labels: labels.clone(),
        test: images(1000, 2),
    };

    // The batched population forward vs the slow path, one generation each.
    let pop = Eggroll::new(config.clone(), &params)?.ask(&params, 0)?;
    let t = Instant::now();
    let fast = eval.evaluate(&params, &pop)?;
    let fast_s = t.elapsed().as_secs_f64();
    let slow_model = build()?;
    let mut slow_eval = FnEvaluator::new(move |p: &ParamView| {
        let mut member = Params::new();
        for (name, dims, v) in p.iter() {
            let t = candle_core::Tensor::from_slice(v, dims, &Device::Cpu).expect("its shape");
            member.push(name, t).expect("unique names");
        }
        let y = slow_model
            .forward(&member, None, &x, None)
            .expect("checked model");
        y.chunks(4)
            .zip(&labels)
            .map(|(y, &l)| log_likelihood(y, l))
            .sum::<f32>()
            / labels.len() as f32
    });
    let t = Instant::now();
    let slow = slow_eval.evaluate(&params, &pop)?;
    let slow_s = t.elapsed().as_secs_f64();
    let worst = fast
        .iter()
        .zip(&slow)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!(
        "one generation of 256 members × 128 images: batched {:.3} s, materialised per member \
         (FnEvaluator) {:.3} s (materialised / batched time {:.2}); fitness max abs difference \
         {worst:.1e}",
        fast_s,
        slow_s,
        slow_s / fast_s
    );

    let trainer = Trainer::new(Eggroll::new(config, &params)?, params);
    let session = eggroll_run::Session::from_parts(trainer, Box::new(eval), 150);
    if let eggroll_run::Outcome::Finished(report) = session.run()? {
        println!(
            "residual CNN: {} generations in {:.1} s, held-out accuracy {:.3} (chance 0.25)",
            report.json["generations"],
            report.json["wall_s"].as_f64().unwrap_or(f64::NAN),
            report.json["test_accuracy"].as_f64().unwrap_or(f64::NAN),
        );
    }
    Ok(())
}
