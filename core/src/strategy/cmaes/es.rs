//! The CMA-ES state and its sampling: construction, accessors, checkpoints, ask.

use super::*;

/// The state of one CMA-ES run. All fields are plain data so a checkpoint restores it to the
/// bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmaState {
    /// Mean m.
    pub mean: Vec<f64>,
    /// Step size σ.
    pub sigma: f64,
    /// Evolution path of C.
    pub pc: Vec<f64>,
    /// Evolution path of σ.
    pub ps: Vec<f64>,
    /// C: n×n row-major (full) or its diagonal (n).
    pub c: Vec<f64>,
    /// Eigenvectors of C as columns, n×n row-major (full only; empty for diagonal).
    pub b: Vec<f64>,
    /// Square roots of the eigenvalues of C (the axis lengths).
    pub d: Vec<f64>,
    /// The Cholesky factor L of C (n×n row-major, lower triangular) when sampling with it
    /// ([`Parameters::cholesky`]); empty otherwise.
    #[serde(default)]
    pub factor: Vec<f64>,
    /// Generations told.
    pub generation: u64,
    /// Function evaluations told.
    pub evals: u64,
    /// Generation of the last eigendecomposition.
    pub eigen_generation: u64,
    /// Best point and value seen.
    pub best_x: Vec<f64>,
    /// Best value seen (+inf before the first tell).
    pub best_f: f64,
    /// Best value per generation (the recent ones, for `tolfun` and stagnation).
    pub best_history: Vec<f64>,
    /// Median value per generation (the recent ones, for stagnation).
    pub median_history: Vec<f64>,
    /// f-range of the last generation.
    pub last_range: f64,
}

/// CMA-ES with an ask/tell interface over f64 points, minimising.
#[derive(Debug, Clone)]
pub struct CmaEs {
    pub(super) config: CmaConfig,
    pub(super) n: usize,
    pub(super) p: Parameters,
    pub(super) s: CmaState,
    /// Samples of the generation asked and not yet told.
    pub(super) pending: Option<Pending>,
    /// The sampling factor transposed, row-major, derived from the state: `Bᵀ` (row j =
    /// eigenvector j), or `Lᵀ` (row j = column j of L) when sampling with the Cholesky factor.
    pub(super) bt: Vec<f64>,
}

/// The samples of one generation: `y = A z`, and `z` when the samples are exactly those
/// (not repaired), which makes `C^{-1/2} y = B z` (`L⁻¹ y = z`) and `‖C^{-1/2} y‖ = ‖z‖`
/// free.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) ys: Rows,
    pub(super) zs: Option<Rows>,
}

pub(super) fn check_finite(name: &str, v: &[f64]) -> Result<()> {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(config_err(
            name,
            format!("coordinate {i} is {}; must be finite", v[i]),
        ));
    }
    Ok(())
}

impl CmaEs {
    /// Start at `x0` with the config's σ₀. Errors name the argument: an empty or non-finite
    /// `x0`, `sigma0` ≤ 0, a `population_size` of 1, a full covariance beyond
    /// [`MAX_FULL_DIM`].
    pub fn new(x0: &[f64], config: &CmaConfig) -> Result<Self> {
        let n = x0.len();
        if n == 0 {
            return Err(config_err("x0", "is empty; the dimension must be ≥ 1"));
        }
        check_finite("x0", x0)?;
        if !(config.sigma0 > 0.0 && config.sigma0.is_finite()) {
            return Err(config_err(
                "sigma0",
                format!("is {}; must be finite and > 0", config.sigma0),
            ));
        }
        if !(config.cmean > 0.0 && config.cmean <= 1.0) {
            return Err(config_err(
                "cmean",
                format!("is {}; must be in (0, 1]", config.cmean),
            ));
        }
        if config.population_size == 1 {
            return Err(config_err(
                "population_size",
                "is 1; CMA-ES needs ≥ 2 samples per generation (0 = default)",
            ));
        }
        if config.covariance == Covariance::Full && n > MAX_FULL_DIM {
            return Err(config_err(
                "covariance",
                format!(
                    "full covariance in dimension {n} needs an {n}×{n} matrix; the limit is \
                     {MAX_FULL_DIM}; use the diagonal variant (sep-cmaes)"
                ),
            ));
        }
        let lambda = if config.population_size == 0 {
            default_population(n)
        } else {
            config.population_size
        };
        let p = Parameters::new(
            n,
            lambda,
            config.covariance,
            config.active,
            config.decomposition,
        );
        let cholesky = p.cholesky;
        let (c, b) = match config.covariance {
            Covariance::Full => {
                let mut c = vec![0.0; n * n];
                for i in 0..n {
                    c[i * n + i] = 1.0;
                }
                (c.clone(), c)
            }
            Covariance::Diagonal => (vec![1.0; n], Vec::new()),
        };
        Ok(Self {
            config: config.clone(),
            n,
            p,
            s: CmaState {
                mean: x0.to_vec(),
                sigma: config.sigma0,
                pc: vec![0.0; n],
                ps: vec![0.0; n],
                factor: if cholesky { b.clone() } else { Vec::new() },
                c,
                b,
                d: vec![1.0; n],
                generation: 0,
                evals: 0,
                eigen_generation: 0,
                best_x: x0.to_vec(),
                best_f: f64::INFINITY,
                best_history: Vec::new(),
                median_history: Vec::new(),
                last_range: f64::INFINITY,
            },
            pending: None,
            bt: Vec::new(),
        }
        .with_bt())
    }

    /// Rebuild the derived Bᵀ.
    pub(super) fn with_bt(mut self) -> Self {
        self.rebuild_bt();
        self
    }

    pub(super) fn rebuild_bt(&mut self) {
        let n = self.n;
        if self.config.covariance == Covariance::Full {
            let a = if self.p.cholesky {
                &self.s.factor
            } else {
                &self.s.b
            };
            // Row j = column j of A, padded with zeros to the tile stride.
            let stride = n.div_ceil(TILE) * TILE;
            self.bt.clear();
            self.bt.resize(n * stride, 0.0);
            for i in 0..n {
                for j in 0..n {
                    self.bt[j * stride + i] = a[i * n + j];
                }
            }
        }
    }

    /// The dimension n.
    pub fn dim(&self) -> usize {
        self.n
    }
    /// λ, samples per generation.
    pub fn population_size(&self) -> usize {
        self.p.lambda
    }
    /// The configuration.
    pub fn config(&self) -> &CmaConfig {
        &self.config
    }
    /// The strategy parameters (weights, learning rates, damping).
    pub fn parameters(&self) -> &Parameters {
        &self.p
    }
    /// The mean m (the current estimate of the optimum).
    pub fn mean(&self) -> &[f64] {
        &self.s.mean
    }
    /// The step size σ.
    pub fn sigma(&self) -> f64 {
        self.s.sigma
    }
    /// Generations told so far.
    pub fn generation(&self) -> u64 {
        self.s.generation
    }
    /// Evaluations told so far.
    pub fn evals(&self) -> u64 {
        self.s.evals
    }
    /// The best point and value told so far.
    pub fn best(&self) -> (&[f64], f64) {
        (&self.s.best_x, self.s.best_f)
    }
    /// The axis ratio max(D)/min(D) (√ of C's condition number).
    pub fn axis_ratio(&self) -> f64 {
        let max = self.s.d.iter().cloned().fold(0.0, f64::max);
        let min = self.s.d.iter().cloned().fold(f64::INFINITY, f64::min);
        max / min
    }
    /// The full state (for checkpoints).
    pub fn state(&self) -> &CmaState {
        &self.s
    }
    /// Restore a state from [`CmaEs::state`] of a run with the same dimension and config.
    /// All or nothing: on error nothing changes.
    pub fn load_state(&mut self, state: CmaState) -> Result<()> {
        let n = self.n;
        let c_len = match self.config.covariance {
            Covariance::Full => n * n,
            Covariance::Diagonal => n,
        };
        let b_len = match self.config.covariance {
            Covariance::Full => n * n,
            Covariance::Diagonal => 0,
        };
        let ok = state.mean.len() == n
            && state.pc.len() == n
            && state.ps.len() == n
            && state.d.len() == n
            && state.best_x.len() == n
            && state.c.len() == c_len
            && state.b.len() == b_len
            && (state.factor.is_empty() || state.factor.len() == n * n)
            && state.sigma > 0.0
            && state.sigma.is_finite();
        if !ok {
            return Err(Error::Param {
                name: "cma state".into(),
                reason: format!(
                    "does not match a dimension-{n} {:?} CMA-ES (or σ is not > 0)",
                    self.config.covariance
                ),
            });
        }
        self.s = state;
        self.pending = None;
        if self.p.cholesky && self.s.factor.is_empty() {
            // A state saved while sampling from the eigendecomposition.
            self.refresh_factor();
        } else if !self.p.cholesky {
            self.s.factor.clear();
        }
        self.rebuild_bt();
        Ok(())
    }

    /// Sample `k`'s stream of the current generation: one stream per (seed, generation,
    /// sample), so samples can be drawn in parallel and a resumed run draws the same ones.
    /// Xoshiro256++ is rand's portable fast generator (same bits on every machine).
    pub(super) fn rng(&self, k: usize) -> Xoshiro256PlusPlus {
        let mut h = self.config.seed ^ 0x9e37_79b9_7f4a_7c15;
        h = h
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .wrapping_add(self.s.generation.wrapping_mul(0x94d0_49bb_1331_11eb));
        h = (h ^ (h >> 31))
            .wrapping_mul(0xd6e8_feb8_6659_fd93)
            .wrapping_add((k as u64).wrapping_mul(0xa076_1d64_78bd_642f));
        Xoshiro256PlusPlus::seed_from_u64(h ^ (h >> 29))
    }

    /// One standard normal vector from `rng` (rand_distr's ziggurat).
    pub(super) fn normal(&self, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
        (0..self.n)
            .map(|_| rng.sample::<f64, _>(rand_distr::StandardNormal))
            .collect()
    }

    /// The generation's λ samples `z` and `y = A z`, four per task, in parallel for large
    /// problems (each sample from its own stream and each `y` summed in one fixed order: the
    /// bits do not depend on the thread count).
    pub(super) fn draw_all(&self) -> (Rows, Rows) {
        let (lambda, n) = (self.p.lambda, self.n);
        let mut zs = Rows::zeros(lambda, n);
        let mut ys = Rows::zeros(lambda, n);
        let stride = zs.stride;
        let draw = |(b, (zchunk, ychunk)): (usize, (&mut [f64], &mut [f64]))| {
            for (r, z) in zchunk.chunks_mut(stride).enumerate() {
                let mut rng = self.rng(4 * b + r);
                for v in &mut z[..n] {
                    *v = rng.sample::<f64, _>(rand_distr::StandardNormal);
                }
            }
            let z: Vec<&[f64]> = zchunk.chunks(stride).map(|z| &z[..n]).collect();
            self.transform_into(&z, ychunk);
        };
        // A normal costs about as much as 16 multiply-adds.
        let per_coordinate = match self.config.covariance {
            Covariance::Full => n + 16,
            Covariance::Diagonal => 17,
        };
        if lambda * n * per_coordinate >= PARALLEL_WORK {
            zs.data
                .par_chunks_mut(4 * stride)
                .zip(ys.data.par_chunks_mut(4 * stride))
                .enumerate()
                .for_each(draw);
        } else {
            zs.data
                .chunks_mut(4 * stride)
                .zip(ys.data.chunks_mut(4 * stride))
                .enumerate()
                .for_each(draw);
        }
        (zs, ys)
    }

    /// Like [`CmaEs::ask`], but every point lies in the box `[lower, upper]`: a sample outside
    /// is redrawn (up to 100 times), then projected onto the box. The update learns from the
    /// points returned. Asking again before telling returns the same points.
    pub fn ask_bounded(&mut self, lower: &[f64], upper: &[f64]) -> Vec<Vec<f64>> {
        if self.pending.is_none() {
            let inside = |x: &[f64]| {
                x.iter()
                    .enumerate()
                    .all(|(i, v)| *v >= lower[i] && *v <= upper[i])
            };
            let mut ys = Vec::with_capacity(self.p.lambda);
            let mut zs = Some(Vec::with_capacity(self.p.lambda));
            for k in 0..self.p.lambda {
                let mut rng = self.rng(k);
                let mut y = Vec::new();
                let mut x = Vec::new();
                let mut z = Vec::new();
                for _ in 0..100 {
                    z = self.normal(&mut rng);
                    y = self.transform(&z);
                    x = self.point(&y);
                    if inside(&x) {
                        break;
                    }
                }
                if inside(&x) {
                    if let Some(zs) = zs.as_mut() {
                        zs.push(z);
                    }
                } else {
                    zs = None;
                    let clipped: Vec<f64> = x
                        .iter()
                        .enumerate()
                        .map(|(i, v)| v.clamp(lower[i], upper[i]))
                        .collect();
                    y = clipped
                        .iter()
                        .zip(&self.s.mean)
                        .map(|(x, m)| (x - m) / self.s.sigma)
                        .collect();
                }
                ys.push(y);
            }
            let n = self.n;
            self.pending = Some(Pending {
                ys: Rows::from_vecs(&ys, n),
                zs: zs.map(|zs| Rows::from_vecs(&zs, n)),
            });
        }
        self.ask()
    }

    pub(super) fn point(&self, y: &[f64]) -> Vec<f64> {
        self.s
            .mean
            .iter()
            .zip(y)
            .map(|(m, y)| m + self.s.sigma * y)
            .collect()
    }

    /// `A z`: `B (D ∘ z)`, or `L z` when sampling with the Cholesky factor.
    pub(super) fn transform(&self, z: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; self.bt_stride()];
        self.transform_into(&[z], &mut y);
        y.truncate(self.n);
        y
    }

    /// Row stride of the padded `bt` (and of sample rows).
    pub(super) fn bt_stride(&self) -> usize {
        self.n.div_ceil(TILE) * TILE
    }

    /// `out` row r (of stride [`CmaEs::bt_stride`]) ← `A zs[r]` for up to four `zs`: `D ∘ z`
    /// (diagonal), `B (D ∘ z)` or `L z`.
    pub(super) fn transform_into(&self, zs: &[&[f64]], out: &mut [f64]) {
        let stride = self.bt_stride();
        if self.config.covariance == Covariance::Diagonal || !self.p.cholesky {
            let dz: Vec<Vec<f64>> = zs
                .iter()
                .map(|z| z.iter().zip(&self.s.d).map(|(z, d)| z * d).collect())
                .collect();
            if self.config.covariance == Covariance::Diagonal {
                for (z, y) in dz.iter().zip(out.chunks_mut(stride)) {
                    y[..self.n].copy_from_slice(z);
                }
                return;
            }
            let dz: Vec<&[f64]> = dz.iter().map(|v| v.as_slice()).collect();
            self.times_a_into(&dz, out);
        } else {
            self.times_a_into(zs, out);
        }
    }

    /// `out` row r (of stride [`CmaEs::bt_stride`], padding left 0) ← `A vs[r]` for up to
    /// four `vs` (full covariance; A = B or L): every entry sums `A_ij v_j` over j = 0, 1, …
    /// in order with fused multiply-adds (terms of L above the diagonal are skipped: they are
    /// 0).
    pub(super) fn times_a_into(&self, zs: &[&[f64]], out: &mut [f64]) {
        let n = self.n;
        let stride = self.bt_stride();
        let zero = vec![0.0; n];
        let coef = |r: usize| zs.get(r).copied().unwrap_or(&zero);
        let rows: Vec<usize> = (0..n).map(|j| j * stride).collect();
        for c0 in (0..stride).step_by(TILE) {
            let len = if self.p.cholesky { n.min(c0 + TILE) } else { n };
            let mut acc = [[0.0; TILE]; 4];
            tile4(
                &mut acc,
                &self.bt,
                &rows,
                c0,
                [
                    &coef(0)[..len],
                    &coef(1)[..len],
                    &coef(2)[..len],
                    &coef(3)[..len],
                ],
            );
            for (r, y) in out.chunks_mut(stride).take(zs.len()).enumerate() {
                y[c0..c0 + TILE].copy_from_slice(&acc[r]);
            }
        }
    }

    /// `C^{-1/2} y = B D⁻¹ Bᵀ y`, or `L⁻¹ y` (forward substitution) when sampling with the
    /// Cholesky factor.
    pub(super) fn inv_sqrt(&self, y: &[f64]) -> Vec<f64> {
        let n = self.n;
        match self.config.covariance {
            Covariance::Diagonal => y.iter().zip(&self.s.d).map(|(y, d)| y / d).collect(),
            Covariance::Full if self.p.cholesky => {
                let l = &self.s.factor;
                let mut x = vec![0.0; n];
                for i in 0..n {
                    let row = &l[i * n..i * n + i];
                    let s: f64 = row.iter().zip(&x[..i]).map(|(a, b)| a * b).sum();
                    x[i] = (y[i] - s) / l[i * n + i];
                }
                x
            }
            Covariance::Full => {
                let mut t = vec![0.0; n];
                for (k, tk) in t.iter_mut().enumerate() {
                    let mut s = 0.0;
                    for (i, yi) in y.iter().enumerate() {
                        s += self.s.b[i * n + k] * yi;
                    }
                    *tk = s / self.s.d[k];
                }
                (0..n)
                    .map(|i| {
                        let row = &self.s.b[i * n..(i + 1) * n];
                        row.iter().zip(&t).map(|(b, v)| b * v).sum()
                    })
                    .collect()
            }
        }
    }

    /// Propose λ points `m + σ B D z` of the current generation. Asking again before telling
    /// returns the same points.
    pub fn ask(&mut self) -> Vec<Vec<f64>> {
        self.sample();
        let pending = self.pending.as_ref().expect("sampled");
        (0..pending.ys.len())
            .map(|k| self.point(pending.ys.row(k)))
            .collect()
    }

    /// Draw the generation's samples unless they are pending already.
    pub(super) fn sample(&mut self) {
        if self.pending.is_none() {
            let (zs, ys) = self.draw_all();
            self.pending = Some(Pending { ys, zs: Some(zs) });
        }
    }

    /// Sample `k`'s `y` (x = m + σ y) of the pending generation, if any.
    pub(crate) fn pending_y(&self, k: usize) -> Option<&[f64]> {
        self.pending.as_ref().map(|p| p.ys.row(k))
    }
}
