//! Population layers: every layer's batched population forward — the CPU fused path and the
//! device path (candle ops, `population_forward`, here on `Device::Cpu`; `tests/device.rs`
//! runs it on a GPU) — equals the per-member materialised reference,
//! antithetic members mirror each other, and bad models are typed errors naming the layer.

use candle_core::Device;
use eggroll_core::{Eggroll, EsConfig, Params, Population, Strategy};
use eggroll_policies::nn::*;

/// Population of `size` at rank `r` for `params`.
fn population(params: &Params, size: usize, r: usize) -> Population {
    let mut es = Eggroll::new(
        EsConfig {
            population_size: size,
            rank: r,
            sigma: 0.3,
            seed: 11,
            ..EsConfig::default()
        },
        params,
    )
    .unwrap();
    es.ask(params, 0).unwrap()
}

/// Deterministic inputs in [-1, 1].
fn inputs(n: usize, salt: u64) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let h = eggroll_core::noise::mix64(i ^ (salt << 32));
            (h >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// The device path ([`population_forward`], candle ops) on `device`, as host values.
fn device_forward(
    model: &Model,
    params: &Params,
    pop: &Population,
    x: &[f32],
    ids: &[u32],
    device: &Device,
) -> Vec<f32> {
    let mut shape = vec![ids.len()];
    shape.extend(model.input_shape());
    let xt = candle_core::Tensor::from_vec(x.to_vec(), shape, device).unwrap();
    let on = params.to_device(device).unwrap();
    population_forward(model, &on, pop, &xt, Some(ids))
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

/// For r ∈ {1, 2, 4}: 8 members, 2 rows each (interleaved), batched vs materialised member by
/// member; returns the worst absolute error of the CPU fused path and of the device path
/// (candle ops on `Device::Cpu`; `tests/device.rs` runs it on a GPU).
fn worst_error(model: &Model, x_row: impl Fn(usize) -> Vec<f32>) -> f32 {
    let mut worst = 0.0f32;
    for r in [1, 2, 4] {
        let params = model.init(5, &Device::Cpu).unwrap();
        let pop = population(&params, 8, r);
        let rows = 16;
        let ids: Vec<u32> = (0..rows as u32).map(|i| i % 8).collect();
        let x: Vec<f32> = (0..rows).flat_map(&x_row).collect();
        let y = model.forward(&params, Some(&pop), &x, Some(&ids)).unwrap();
        let on_device = device_forward(model, &params, &pop, &x, &ids, &Device::Cpu);
        for outputs in [&y, &on_device] {
            worst = worst.max(error_vs_members(
                model, &params, &pop, &ids, &x_row, outputs,
            ));
        }
        // The population forward really is perturbed: members differ from plain inference.
        let plain = model.forward(&params, None, &x, None).unwrap();
        assert_ne!(
            plain, y,
            "r = {r}: the population forward ignored the noise"
        );
    }
    worst
}

/// The largest absolute difference between `y` (row `i` the output of member `ids[i]` on
/// `x_row(i)`) and each member's own plain forward with its weights materialised.
fn error_vs_members(
    model: &Model,
    params: &Params,
    pop: &Population,
    ids: &[u32],
    x_row: impl Fn(usize) -> Vec<f32>,
    y: &[f32],
) -> f32 {
    let out = y.len() / ids.len();
    let base = params.to_host().unwrap();
    let mut worst = 0.0f32;
    for (row, &m) in ids.iter().enumerate() {
        let w = pop.materialize(params, &base, m as usize).unwrap();
        let pm = params.from_host_like(&w).unwrap();
        let yr = model.forward(&pm, None, &x_row(row), None).unwrap();
        for (a, b) in y[row * out..(row + 1) * out].iter().zip(&yr) {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

fn check(name: &str, model: &Model, x_row: impl Fn(usize) -> Vec<f32>) {
    let e = worst_error(model, x_row);
    assert!(
        e <= 1e-4,
        "{name}: max abs error {e} vs the materialised members"
    );
}

#[test]
fn linear_matches_materialised_members_with_and_without_bias() {
    for bias in [true, false] {
        let vb = Vb::new();
        let net = seq()
            .add(linear(&vb.pp("fc1"), 7, 9, bias).unwrap())
            .add(tanh())
            .add(linear(&vb.pp("fc2"), 9, 3, bias).unwrap());
        let model = Model::new(net, &vb, &[7]).unwrap();
        check(&format!("linear bias={bias}"), &model, |r| {
            inputs(7, r as u64)
        });
    }
    // Linear over the last dimension of [T, d] rows (every position is a GEMM row).
    let vb = Vb::new();
    let model = Model::new(linear(&vb.pp("proj"), 4, 5, true).unwrap(), &vb, &[3, 4]).unwrap();
    assert_eq!(model.output_shape(), &[3, 5]);
    check("linear over [T, d]", &model, |r| inputs(12, r as u64));
}

#[test]
fn conv2d_matches_materialised_members() {
    for (bias, stride, padding) in [(true, 1, 1), (false, 2, 0), (true, 2, 2)] {
        let vb = Vb::new();
        let net = seq()
            .add(conv2d(&vb.pp("conv"), 2, 3, 3, stride, padding, bias).unwrap())
            .add(relu());
        let model = Model::new(net, &vb, &[2, 7, 6]).unwrap();
        check(
            &format!("conv2d bias={bias} stride={stride} padding={padding}"),
            &model,
            |r| inputs(2 * 7 * 6, r as u64),
        );
    }
}

#[test]
fn conv2d_equals_a_direct_convolution() {
    // Plain inference against the textbook loop (PyTorch semantics: cross-correlation,
    // weight out × in × kh × kw, zero padding).
    let vb = Vb::new();
    let conv = conv2d(&vb.pp("c"), 2, 3, 3, 2, 1, true).unwrap();
    let model = Model::new(conv, &vb, &[2, 5, 5]).unwrap();
    assert_eq!(model.output_shape(), &[3, 3, 3]);
    let params = model.init(1, &Device::Cpu).unwrap();
    let host = params.to_host().unwrap();
    let (w, b) = (&host[0], &host[1]);
    let x = inputs(50, 3);
    let y = model.forward(&params, None, &x, None).unwrap();
    for o in 0..3 {
        for oy in 0..3 {
            for ox in 0..3 {
                let mut s = b[o];
                for c in 0..2 {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = ((oy * 2 + ky) as isize - 1, (ox * 2 + kx) as isize - 1);
                            if (0..5).contains(&iy) && (0..5).contains(&ix) {
                                s += w[((o * 2 + c) * 3 + ky) * 3 + kx]
                                    * x[c * 25 + iy as usize * 5 + ix as usize];
                            }
                        }
                    }
                }
                let got = y[o * 9 + oy * 3 + ox];
                assert!((got - s).abs() < 1e-5, "({o},{oy},{ox}): {got} vs {s}");
            }
        }
    }
}

#[test]
fn embedding_and_norms_match_materialised_members() {
    let vb = Vb::new();
    let net = seq()
        .add(embedding(&vb.pp("tok"), 11, 6).unwrap())
        .add(layer_norm(&vb.pp("ln"), 6).unwrap())
        .add(linear(&vb.pp("head"), 6, 4, true).unwrap())
        .add(rms_norm(&vb.pp("rms"), 4).unwrap());
    let model = Model::new(net, &vb, &[5]).unwrap();
    assert_eq!(model.output_shape(), &[5, 4]);
    check("embedding + layer_norm + rms_norm", &model, |r| {
        (0..5).map(|t| ((r * 7 + t * 3) % 11) as f32).collect()
    });
}

#[test]
fn small_cnn_with_pooling_and_a_residual_block_matches_materialised_members() {
    let vb = Vb::new();
    let block = vb.pp("blocks").pp(0);
    let net = seq()
        .add(conv2d(&vb.pp("stem"), 1, 4, 3, 1, 1, true).unwrap())
        .add(relu())
        .add(residual(
            seq()
                .add(conv2d(&block.pp("conv"), 4, 4, 3, 1, 1, false).unwrap())
                .add(gelu()),
        ))
        .add(max_pool2d(2, 2))
        .add(avg_pool2d(2, 1))
        .add(flatten())
        .add(linear(&vb.pp("fc"), 4 * 3 * 3, 10, true).unwrap());
    let model = Model::new(net, &vb, &[1, 8, 8]).unwrap();
    let names: Vec<_> = model.decls().iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "stem.weight",
            "stem.bias",
            "blocks.0.conv.weight",
            "fc.weight",
            "fc.bias"
        ]
    );
    assert_eq!(model.num_params(), 4 * 9 + 4 + 16 * 9 + 36 * 10 + 10);
    check("cnn", &model, |r| inputs(64, r as u64));
}

#[test]
fn antithetic_members_mirror_each_other_in_linear_layers() {
    let vb = Vb::new();
    let model = Model::new(linear(&vb.pp("fc"), 6, 4, false).unwrap(), &vb, &[6]).unwrap();
    let params = model.init(2, &Device::Cpu).unwrap();
    for r in [1, 2, 4] {
        let pop = population(&params, 8, r);
        let x = inputs(6, 9);
        let xx: Vec<f32> = x.iter().chain(&x).copied().collect();
        let y = model
            .forward(&params, Some(&pop), &xx, Some(&[2, 3]))
            .unwrap();
        let plain = model.forward(&params, None, &x, None).unwrap();
        for j in 0..4 {
            let (plus, minus) = (y[j] - plain[j], y[4 + j] - plain[j]);
            assert!(plus.abs() > 1e-4, "no perturbation");
            assert!((plus + minus).abs() < 1e-5, "r={r}: {plus} vs {minus}");
        }
    }
}

fn message(e: eggroll_core::Error) -> String {
    e.to_string()
}

#[test]
fn bad_models_are_typed_errors_naming_the_layer() {
    // Shapes that do not chain.
    let vb = Vb::new();
    let net = seq()
        .add(linear(&vb.pp("fc1"), 4, 3, true).unwrap())
        .add(linear(&vb.pp("fc2"), 5, 2, true).unwrap());
    let e = message(Model::new(net, &vb, &[4]).err().unwrap());
    assert!(e.contains("linear fc2"), "{e}");
    // A kernel larger than allowed, or than the padded input; stride 0.
    let vb = Vb::new();
    assert!(
        message(conv2d(&vb.pp("big"), 1, 1, 65, 1, 0, true).err().unwrap()).contains("conv2d big")
    );
    assert!(message(conv2d(&vb.pp("s0"), 1, 1, 3, 0, 0, true).err().unwrap()).contains("stride"));
    let vb = Vb::new();
    let e = message(
        Model::new(
            conv2d(&vb.pp("c"), 1, 2, 5, 1, 0, true).unwrap(),
            &vb,
            &[1, 4, 4],
        )
        .err()
        .unwrap(),
    );
    assert!(e.contains("conv2d c") && e.contains("larger"), "{e}");
    // Wrong channel count.
    let vb = Vb::new();
    let e = message(
        Model::new(
            conv2d(&vb.pp("c"), 3, 2, 3, 1, 0, true).unwrap(),
            &vb,
            &[1, 8, 8],
        )
        .err()
        .unwrap(),
    );
    assert!(e.contains("conv2d c"), "{e}");
    // Two layers under one name.
    let vb = Vb::new();
    linear(&vb.pp("fc"), 2, 2, true).unwrap();
    let e = message(linear(&vb.pp("fc"), 2, 2, true).err().unwrap());
    assert!(e.contains("fc.weight") && e.contains("twice"), "{e}");
    // A residual that changes the shape.
    let vb = Vb::new();
    let e = message(
        Model::new(
            residual(linear(&vb.pp("r"), 4, 3, true).unwrap()),
            &vb,
            &[4],
        )
        .err()
        .unwrap(),
    );
    assert!(e.contains("residual"), "{e}");
    // Token ids out of range, and parameters of another model.
    let vb = Vb::new();
    let model = Model::new(embedding(&vb.pp("emb"), 5, 3).unwrap(), &vb, &[2]).unwrap();
    let params = model.init(0, &Device::Cpu).unwrap();
    let e = message(
        model
            .forward(&params, None, &[1.0, 5.0], None)
            .err()
            .unwrap(),
    );
    assert!(
        e.contains("embedding emb") && e.contains("token id 5"),
        "{e}"
    );
    let e = message(
        model
            .forward(&params, None, &[1.5, 0.0], None)
            .err()
            .unwrap(),
    );
    assert!(e.contains("token id 1.5"), "{e}");
    let vb2 = Vb::new();
    let other = Model::new(linear(&vb2.pp("fc"), 3, 3, true).unwrap(), &vb2, &[3]).unwrap();
    let e = message(other.forward(&params, None, &[0.0; 3], None).err().unwrap());
    assert!(e.contains("parameters"), "{e}");
}

/// A conv kernel (4-D, PyTorch layout) gets low-rank noise of its `out × (in·kh·kw)` matrix,
/// and an EGGROLL step updates it in place with its shape kept.
#[test]
fn conv_kernels_are_low_rank_matrices_and_update_in_place() {
    let vb = Vb::new();
    let model = Model::new(
        conv2d(&vb.pp("c"), 2, 3, 3, 1, 0, true).unwrap(),
        &vb,
        &[2, 4, 4],
    )
    .unwrap();
    let mut params = model.init(0, &Device::Cpu).unwrap();
    let mut es = Eggroll::new(
        EsConfig {
            population_size: 4,
            rank: 2,
            ..EsConfig::default()
        },
        &params,
    )
    .unwrap();
    let pop = es.ask(&params, 0).unwrap();
    match &pop.noise[0] {
        eggroll_core::Noise::LowRank { a, b, rank } => {
            assert_eq!(
                (a.dims(), b.dims(), *rank),
                (&[2, 3, 2][..], &[2, 18, 2][..], 2)
            );
        }
        other => panic!("conv kernel noise {other:?}"),
    }
    let before = params.to_host().unwrap();
    es.tell(&mut params, &pop, &[1.0, -1.0, 0.5, 0.0]).unwrap();
    assert_eq!(params.get("c.weight").unwrap().dims(), &[3, 2, 3, 3]);
    assert_ne!(params.to_host().unwrap()[0], before[0]);
    model.check_params(&params).unwrap();
}

/// Max abs difference between `forward_shared` of `members` on the `batch` rows `x` and the
/// per-row population forward of `x` tiled once per member.
fn shared_vs_per_row(
    model: &Model,
    params: &Params,
    pop: &Population,
    x: &[f32],
    members: std::ops::Range<usize>,
    batch: usize,
) -> f32 {
    let shared = model
        .forward_shared(params, pop, x, members.clone())
        .unwrap();
    let tiled = x.repeat(members.len());
    let ids: Vec<u32> = members
        .flat_map(|m| std::iter::repeat_n(m as u32, batch))
        .collect();
    let rows = model
        .forward(params, Some(pop), &tiled, Some(&ids))
        .unwrap();
    assert_eq!(shared.len(), rows.len());
    shared
        .iter()
        .zip(&rows)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max)
}

/// Members that all see the same inputs (MNIST's shared batch): `forward_shared` equals the
/// per-row forward of the replicated inputs, for a conv and a linear first layer.
#[test]
fn shared_input_forward_equals_the_per_row_forward() {
    let build = |conv_first: bool| {
        let vb = Vb::new();
        let net = if conv_first {
            seq()
                .add(conv2d(&vb.pp("c"), 1, 3, 3, 2, 1, true).unwrap())
                .add(relu())
                .add(flatten())
                .add(linear(&vb.pp("fc"), 3 * 3 * 3, 4, true).unwrap())
        } else {
            seq()
                .add(flatten())
                .add(linear(&vb.pp("fc0"), 25, 6, true).unwrap())
                .add(tanh())
                .add(linear(&vb.pp("fc"), 6, 4, true).unwrap())
        };
        Model::new(net, &vb, &[1, 5, 5]).unwrap()
    };
    for conv_first in [true, false] {
        let model = build(conv_first);
        for r in [1, 2, 4] {
            let params = model.init(3, &Device::Cpu).unwrap();
            let pop = population(&params, 8, r);
            let batch = 3;
            let x = inputs(batch * 25, 4);
            let worst = shared_vs_per_row(&model, &params, &pop, &x, 2..7, batch);
            assert!(worst <= 1e-5, "conv_first={conv_first} r={r}: {worst}");
        }
        let params = model.init(3, &Device::Cpu).unwrap();
        let pop = population(&params, 8, 1);
        assert!(
            model
                .forward_shared(&params, &pop, &inputs(25, 1), 6..9)
                .is_err()
        );
    }
}

/// The MLP is one such model: built from `linear` layers it has the MLP's parameter names,
/// and its population forward gives the same bits as the fused MLP forward (rank 1 and 4,
/// tanh and relu, with and without bias, and plain inference).
#[test]
fn the_mlp_built_from_layers_equals_the_fused_mlp_bit_for_bit() {
    use eggroll_policies::{Activation, MlpConfig, PopulationForward};
    /// A module that hides its inner layer from the dense-chain planner: the layers of a
    /// `seq` of these run one by one (their own forwards), the reference for the chain.
    struct Opaque<M>(M);
    impl<M: Module> Module for Opaque<M> {
        fn label(&self) -> String {
            self.0.label()
        }
        fn out_shape(&self, input: &[usize]) -> eggroll_core::Result<Vec<usize>> {
            self.0.out_shape(input)
        }
        fn forward(&self, x: &Act, ctx: &Ctx<'_>) -> eggroll_core::Result<Act> {
            self.0.forward(x, ctx)
        }
        fn forward_shared(
            &self,
            x: &Act,
            members: &[u32],
            ctx: &Ctx<'_>,
        ) -> eggroll_core::Result<Act> {
            self.0.forward_shared(x, members, ctx)
        }
    }
    for (activation, bias) in [
        (Activation::Tanh, true),
        (Activation::Relu, false),
        (Activation::Gelu, true),
    ] {
        let cfg = MlpConfig {
            sizes: vec![5, 33, 17, 2],
            activation,
            bias,
        };
        let model = cfg.model().unwrap();
        let vb = Vb::new();
        let mut net = seq();
        for l in 0..3 {
            let lin = linear(&vb.pp("layers").pp(l), cfg.sizes[l], cfg.sizes[l + 1], bias);
            net = net.add(Opaque(lin.unwrap()));
            if l < 2 {
                net = match activation {
                    Activation::Tanh => net.add(Opaque(tanh())),
                    Activation::Relu => net.add(Opaque(relu())),
                    Activation::Gelu => net.add(Opaque(eggroll_policies::nn::gelu())),
                };
            }
        }
        let layer_by_layer = Model::new(net, &vb, &[5]).unwrap();
        assert!(
            layer_by_layer
                .dense_forward(&cfg.init(0, &Device::Cpu).unwrap(), None)
                .is_err()
        );
        let params = cfg.init(4, &Device::Cpu).unwrap();
        model.check_params(&params).unwrap();
        for r in [1, 4] {
            let pop = population(&params, 16, r);
            let rows = 150;
            let x = inputs(rows * 5, 8);
            let ids: Vec<u32> = (0..rows as u32).map(|i| (i * 7) % 16).collect();
            let reference = layer_by_layer
                .forward(&params, Some(&pop), &x, Some(&ids))
                .unwrap();
            let chain = model.forward(&params, Some(&pop), &x, Some(&ids)).unwrap();
            assert_eq!(reference, chain, "{activation:?} bias={bias} r={r}");
            let mut fused = vec![0.0f32; rows * 2];
            PopulationForward::new(&cfg, &params, Some(&pop))
                .unwrap()
                .forward(&x, Some(&ids), &mut fused)
                .unwrap();
            assert_eq!(fused, chain);
            // Parameters by name: a policy file lists them sorted (biases first), the
            // population's noise follows that order.
            let mut sorted: Vec<_> = params
                .iter()
                .map(|p| (p.name().to_string(), p.tensor().clone()))
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            let mut reordered = Params::new();
            for (name, t) in sorted {
                reordered = reordered.with(&name, t).unwrap();
            }
            if bias {
                assert_ne!(
                    reordered.index_of("layers.0.weight"),
                    params.index_of("layers.0.weight")
                );
            }
            let pop_sorted = population(&reordered, 16, r);
            let mut fused_sorted = vec![0.0f32; rows * 2];
            PopulationForward::new(&cfg, &reordered, Some(&pop_sorted))
                .unwrap()
                .forward(&x, Some(&ids), &mut fused_sorted)
                .unwrap();
            assert_eq!(
                fused_sorted, chain,
                "noise follows the names, not the order"
            );
            assert_eq!(
                layer_by_layer.forward(&params, None, &x, None).unwrap(),
                model.forward(&params, None, &x, None).unwrap()
            );
            // Every member on the same rows: the chain runs the MLP's shared-input kernel (the
            // first layer's product once for all members; its low-rank terms as one GEMM, so
            // summed in another order than row by row): the fused MLP's bits, and within
            // float rounding of the layers one by one.
            let batch = &x[..20 * 5];
            let shared = model.forward_shared(&params, &pop, batch, 3..11).unwrap();
            let mut fused = vec![0.0f32; shared.len()];
            PopulationForward::new(&cfg, &params, Some(&pop))
                .unwrap()
                .forward_shared(batch, 3..11, &mut fused)
                .unwrap();
            assert_eq!(fused, shared);
            let one_by_one = layer_by_layer
                .forward_shared(&params, &pop, batch, 3..11)
                .unwrap();
            for (a, b) in one_by_one.iter().zip(&shared) {
                assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
            }
        }
    }
    // A model that is not one dense chain has no fused MLP forward (an error naming it).
    let cnn = eggroll_policies::mnist::cnn(8, 8, &[2]).unwrap();
    let e = message(
        cnn.dense_forward(&cnn.init(0, &Device::Cpu).unwrap(), None)
            .err()
            .unwrap(),
    );
    assert!(e.contains("sequential") && e.contains("chain"), "{e}");
}

/// Sequence layers: token and positional embeddings, a pre-norm residual causal attention
/// block and a minGRU, against the materialised members; attention and the minGRU are causal;
/// bad widths and lengths are typed errors.
#[test]
fn sequence_layers_match_materialised_members_and_are_causal() {
    let build = || {
        let vb = Vb::new();
        let blk = vb.pp("blocks").pp(0);
        let net = seq()
            .add(embedding(&vb.pp("tok"), 13, 8).unwrap())
            .add(pos_embedding(&vb.pp("pos"), 6, 8).unwrap())
            .add(residual(
                seq()
                    .add(rms_norm(&blk.pp("norm"), 8).unwrap())
                    .add(causal_self_attention(&blk.pp("attn"), 8, 2).unwrap()),
            ))
            .add(min_gru(&vb.pp("rnn"), 8, 8).unwrap())
            .add(linear(&vb.pp("head"), 8, 13, true).unwrap());
        Model::new(net, &vb, &[6]).unwrap()
    };
    let model = build();
    assert_eq!(model.output_shape(), &[6, 13]);
    assert!(
        model
            .decls()
            .iter()
            .any(|d| d.name == "blocks.0.attn.q_proj.weight")
    );
    check("embedding + attention + minGRU", &model, |r| {
        (0..6).map(|t| ((r * 5 + t * 3) % 13) as f32).collect()
    });
    // Causality: changing the last token leaves every earlier position's output unchanged.
    let params = model.init(1, &Device::Cpu).unwrap();
    let a = model
        .forward(&params, None, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], None)
        .unwrap();
    let b = model
        .forward(&params, None, &[1.0, 2.0, 3.0, 4.0, 5.0, 11.0], None)
        .unwrap();
    assert_eq!(a[..5 * 13], b[..5 * 13]);
    assert_ne!(a[5 * 13..], b[5 * 13..]);
    // Bad widths and lengths.
    let vb = Vb::new();
    let e = message(causal_self_attention(&vb.pp("a"), 10, 3).err().unwrap());
    assert!(e.contains("attention a") && e.contains("heads"), "{e}");
    let vb = Vb::new();
    let too_long = seq()
        .add(embedding(&vb.pp("tok"), 13, 8).unwrap())
        .add(pos_embedding(&vb.pp("pos"), 4, 8).unwrap());
    let e = message(Model::new(too_long, &vb, &[6]).err().unwrap());
    assert!(e.contains("pos_embedding pos"), "{e}");
}

/// The differentiable forward (`Model::forward_tensor`, candle ops) equals the population
/// forward without noise (σ = 0) for every layer kind, and candle's autograd through it equals
/// finite differences.
#[test]
fn the_differentiable_forward_equals_the_population_forward_and_backprops() {
    use candle_core::{Tensor, Var};
    let dev = Device::Cpu;
    let models: Vec<(&str, Model, Vec<f32>)> = {
        let mlp = {
            let vb = Vb::new();
            let net = seq()
                .add(linear(&vb.pp("a"), 6, 16, true).unwrap())
                .add(tanh())
                .add(linear(&vb.pp("b"), 16, 16, false).unwrap())
                .add(gelu())
                .add(layer_norm(&vb.pp("ln"), 16).unwrap())
                .add(linear(&vb.pp("c"), 16, 3, true).unwrap())
                .add(relu());
            (Model::new(net, &vb, &[6]).unwrap(), inputs(5 * 6, 1))
        };
        let cnn = {
            let vb = Vb::new();
            let net = seq()
                .add(conv2d(&vb.pp("c1"), 2, 4, 3, 1, 1, true).unwrap())
                .add(relu())
                .add(max_pool2d(2, 2))
                .add(residual(
                    seq().add(conv2d(&vb.pp("c2"), 4, 4, 3, 1, 1, false).unwrap()),
                ))
                .add(avg_pool2d(2, 1))
                .add(flatten())
                .add(linear(&vb.pp("fc"), 4 * 2 * 2, 5, true).unwrap());
            (Model::new(net, &vb, &[2, 6, 6]).unwrap(), inputs(3 * 72, 2))
        };
        let lm = {
            let vb = Vb::new();
            let net = seq()
                .add(embedding(&vb.pp("tok"), 11, 8).unwrap())
                .add(pos_embedding(&vb.pp("pos"), 7, 8).unwrap())
                .add(residual(
                    seq()
                        .add(rms_norm(&vb.pp("n"), 8).unwrap())
                        .add(causal_self_attention(&vb.pp("attn"), 8, 2).unwrap()),
                ))
                .add(min_gru(&vb.pp("rnn"), 8, 8).unwrap())
                .add(linear(&vb.pp("head"), 8, 11, true).unwrap());
            let ids: Vec<f32> = (0..4 * 7).map(|i| ((i * 5 + 3) % 11) as f32).collect();
            (Model::new(net, &vb, &[7]).unwrap(), ids)
        };
        vec![
            ("mlp", mlp.0, mlp.1),
            ("cnn", cnn.0, cnn.1),
            ("sequence", lm.0, lm.1),
        ]
    };
    for (name, model, x) in &models {
        let params = model.init(3, &dev).unwrap();
        let want = model.forward(&params, None, x, None).unwrap();
        let width: usize = model.input_shape().iter().product();
        let mut shape = vec![x.len() / width];
        shape.extend(model.input_shape());
        let xt = Tensor::from_vec(x.clone(), shape.as_slice(), &dev).unwrap();
        let ts: Vec<Tensor> = params.iter().map(|p| p.tensor().clone()).collect();
        let got: Vec<f32> = model
            .forward_tensor(&xt, &ts)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{name}: max |tensor − population| = {worst}");

        // Autograd vs central differences on a few entries of every parameter (f64 copy).
        let vars: Vec<Var> = params
            .iter()
            .map(|p| {
                Var::from_tensor(&p.tensor().to_dtype(candle_core::DType::F64).unwrap()).unwrap()
            })
            .collect();
        let x64 = xt.to_dtype(candle_core::DType::F64).unwrap();
        let loss = |ts: &[Tensor]| -> Tensor {
            let y = model.forward_tensor(&x64, ts).unwrap();
            (y.clone() * y.sin().unwrap()).unwrap().sum_all().unwrap()
        };
        let vt: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let grads = loss(&vt).backward().unwrap();
        for (pi, v) in vars.iter().enumerate() {
            if name == &"sequence" && pi == 0 {
                continue; // the token table: entries of unused tokens have zero gradient
            }
            let g: Vec<f64> = grads
                .get(v)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let base: Vec<f64> = v.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            for &k in &[0usize, base.len() / 2, base.len() - 1] {
                let eval = |delta: f64| -> f64 {
                    let mut b = base.clone();
                    b[k] += delta;
                    let mut ts = vt.clone();
                    ts[pi] = Tensor::from_vec(b, v.as_tensor().dims(), &dev).unwrap();
                    loss(&ts).to_scalar::<f64>().unwrap()
                };
                let h = 1e-6;
                let fd = (eval(h) - eval(-h)) / (2.0 * h);
                assert!(
                    (fd - g[k]).abs() <= 1e-4 * (1.0 + fd.abs()),
                    "{name}: parameter {} entry {k}: autograd {} vs finite difference {fd}",
                    model.decls()[pi].name,
                    g[k]
                );
            }
        }
    }
}

/// SimpleES perturbs matrices with full noise: the device path adds it per row too (linear,
/// conv kernels, embedding and position tables), equal to the materialised members.
#[test]
fn the_device_path_takes_full_noise_like_the_materialised_members() {
    let vb = Vb::new();
    let cnn = seq()
        .add(conv2d(&vb.pp("conv"), 1, 3, 3, 1, 1, true).unwrap())
        .add(relu())
        .add(flatten())
        .add(linear(&vb.pp("fc"), 3 * 5 * 5, 4, true).unwrap());
    let cnn = Model::new(cnn, &vb, &[1, 5, 5]).unwrap();
    let vb = Vb::new();
    let lm = seq()
        .add(embedding(&vb.pp("tok"), 9, 6).unwrap())
        .add(pos_embedding(&vb.pp("pos"), 5, 6).unwrap())
        .add(layer_norm(&vb.pp("ln"), 6).unwrap())
        .add(linear(&vb.pp("head"), 6, 9, false).unwrap());
    let lm = Model::new(lm, &vb, &[4]).unwrap();
    for (model, x_row) in [
        (
            &cnn,
            Box::new(|r: usize| inputs(25, r as u64)) as Box<dyn Fn(usize) -> Vec<f32>>,
        ),
        (
            &lm,
            Box::new(|r: usize| (0..4).map(|t| ((r * 5 + t * 2) % 9) as f32).collect()),
        ),
    ] {
        let params = model.init(3, &Device::Cpu).unwrap();
        let mut es = eggroll_core::strategy::SimpleEs::new(
            EsConfig {
                population_size: 6,
                sigma: 0.2,
                seed: 4,
                ..EsConfig::default()
            },
            &params,
        )
        .unwrap();
        let pop = es.ask(&params, 0).unwrap();
        assert!(
            pop.noise
                .iter()
                .all(|n| matches!(n, eggroll_core::Noise::Full { .. }))
        );
        let ids: Vec<u32> = (0..12).map(|i| (i * 5 % 6) as u32).collect();
        let x: Vec<f32> = (0..12).flat_map(&x_row).collect();
        let y = device_forward(model, &params, &pop, &x, &ids, &Device::Cpu);
        let e = error_vs_members(model, &params, &pop, &ids, &x_row, &y);
        assert!(e <= 1e-4, "max abs error {e} vs the materialised members");
    }
}

/// `Model::forward_candle` (what `forward` and `forward_shared` run for parameters off the
/// CPU) on the CPU device equals the fused path, with and without a population.
#[test]
fn forward_candle_equals_the_fused_forward() {
    let vb = Vb::new();
    let net = seq()
        .add(conv2d(&vb.pp("conv"), 1, 2, 3, 2, 1, true).unwrap())
        .add(relu())
        .add(flatten())
        .add(linear(&vb.pp("fc"), 2 * 3 * 3, 3, true).unwrap());
    let model = Model::new(net, &vb, &[1, 5, 5]).unwrap();
    let params = model.init(8, &Device::Cpu).unwrap();
    let pop = population(&params, 6, 2);
    let ids: Vec<u32> = vec![5, 0, 3, 3, 1];
    let x = inputs(5 * 25, 9);
    let fused = model.forward(&params, Some(&pop), &x, Some(&ids)).unwrap();
    let candle = model.forward_candle(&params, Some(&pop), &x, &ids).unwrap();
    let plain = model.forward(&params, None, &x, None).unwrap();
    let plain_candle = model.forward_candle(&params, None, &x, &ids).unwrap();
    for (a, b) in fused
        .iter()
        .zip(&candle)
        .chain(plain.iter().zip(&plain_candle))
    {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
    assert!(model.forward_candle(&params, None, &x[1..], &ids).is_err());
}

/// `log_softmax_at` (f32 exp over 16 lanes, f64 logarithm) against an f64 reference: 10 and
/// 256 classes, logits from peaked to flat, and the largest logit far from the rest.
#[test]
fn log_softmax_at_matches_an_f64_reference() {
    let reference = |y: &[f32], label: usize| {
        let max = y
            .iter()
            .map(|&v| v as f64)
            .fold(f64::NEG_INFINITY, f64::max);
        let lse = y.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln() + max;
        y[label] as f64 - lse
    };
    let mut worst = 0.0f64;
    for classes in [10usize, 17, 256] {
        for scale in [0.01f32, 1.0, 8.0, 40.0] {
            let y: Vec<f32> = (0..classes)
                .map(|i| ((i * 7919 % 101) as f32 / 50.0 - 1.0) * scale)
                .collect();
            for label in [0, classes / 2, classes - 1] {
                let (got, want) = (
                    eggroll_policies::nn::log_softmax_at(&y, label),
                    reference(&y, label),
                );
                worst = worst.max((got - want).abs() / want.abs().max(1.0));
            }
        }
    }
    assert!(worst < 2e-6, "worst relative error {worst}");
    // A label far below the maximum: log-probability about −1000, still finite and exact-ish.
    let mut y = vec![0.0f32; 256];
    y[3] = 1000.0;
    let lp = eggroll_policies::nn::log_softmax_at(&y, 0);
    assert!((lp + 1000.0).abs() < 1e-3, "{lp}");
}

/// The attention kernel's block paths at language-model sizes: head width 20 (one 16-channel
/// block and a tail of 4) and 24 (one block and a tail of 8), 37 positions (key blocks of 16
/// and a partial last one), with and without ALiBi, against the candle ops path (softmax from
/// candle's `exp`, GELU from its `tanh`, ALiBi as an added bias tensor) with and without a
/// population.
#[test]
fn attention_at_language_model_sizes_equals_the_candle_path() {
    for (width, heads, alibi) in [
        (40usize, 2usize, None),
        (48, 2, Some(8.0f32)),
        (32, 2, Some(0.0)),
        (32, 4, Some(2.0)),
    ] {
        let vb = Vb::new();
        let blk = vb.pp("blocks").pp(0);
        let net = seq()
            .add(embedding(&vb.pp("tok"), 50, width).unwrap())
            .add(pos_embedding(&vb.pp("pos"), 37, width).unwrap())
            .add(residual(
                seq().add(rms_norm(&blk.pp("norm1"), width).unwrap()).add({
                    let a = causal_self_attention(&blk.pp("attn"), width, heads).unwrap();
                    match alibi {
                        Some(base) => a.with_alibi(base),
                        None => a,
                    }
                }),
            ))
            .add(residual(
                seq()
                    .add(rms_norm(&blk.pp("norm2"), width).unwrap())
                    .add(linear(&blk.pp("fc1"), width, 2 * width, true).unwrap())
                    .add(gelu())
                    .add(linear(&blk.pp("fc2"), 2 * width, width, true).unwrap()),
            ))
            .add(linear(&vb.pp("head"), width, 50, true).unwrap());
        let model = Model::new(net, &vb, &[37]).unwrap();
        let params = model.init(4, &Device::Cpu).unwrap();
        let pop = population(&params, 6, 1);
        let ids: Vec<u32> = vec![0, 1, 4, 5];
        let x: Vec<f32> = (0..4 * 37).map(|i| ((i * 13 + 7) % 50) as f32).collect();
        let fused = model.forward(&params, Some(&pop), &x, Some(&ids)).unwrap();
        let candle = model.forward_candle(&params, Some(&pop), &x, &ids).unwrap();
        let plain = model.forward(&params, None, &x, None).unwrap();
        let plain_candle = model.forward_candle(&params, None, &x, &ids).unwrap();
        let mut worst = 0.0f32;
        for (a, b) in fused
            .iter()
            .zip(&candle)
            .chain(plain.iter().zip(&plain_candle))
        {
            worst = worst.max((a - b).abs());
        }
        assert!(
            worst <= 1e-4,
            "width {width}, alibi {alibi:?}: max abs error {worst}"
        );
    }
}

/// charlm's transformer and minGRU: the shared-batch forward the fitness uses equals the
/// per-row population forward on the tiled batch.
#[test]
fn charlm_models_shared_forward_equals_the_per_row_forward() {
    use eggroll_policies::charlm::{LmKind, LmSpec};
    let transformer = LmSpec {
        kind: LmKind::Transformer,
        width: 32,
        depth: 1,
        heads: 2,
        context: 32,
        alibi: Some(0.0),
    };
    let mingru = LmSpec {
        kind: LmKind::Mingru,
        alibi: None,
        ..transformer.clone()
    };
    for spec in [&transformer, &mingru] {
        let model = spec.build().unwrap();
        let params = model.init(3, &Device::Cpu).unwrap();
        let pop = population(&params, 8, 1);
        let x: Vec<f32> = (0..3 * 32).map(|i| ((i * 29 + 5) % 256) as f32).collect();
        let worst = shared_vs_per_row(&model, &params, &pop, &x, 2..6, 3);
        assert!(worst <= 1e-4, "{:?}: max abs error {worst}", spec.kind);
    }
    // A bad ALiBi base is a typed error naming the config field.
    for base in [-1.0f32, f32::NAN, f32::INFINITY] {
        let spec = LmSpec {
            alibi: Some(base),
            ..transformer.clone()
        };
        let e = message(spec.build().err().expect("rejected"));
        assert!(e.contains("policy.alibi"), "{e}");
    }
}
