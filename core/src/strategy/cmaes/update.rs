//! The CMA-ES update (tell): mean, paths, σ, covariance, its decomposition, and the local
//! stopping criteria.

use super::*;

impl CmaEs {
    /// Update from the values of the points of the last [`CmaEs::ask`], in the same order
    /// (minimisation). Errors: no pending ask, a wrong length, a NaN (map NaN to +inf first
    /// to treat it as the worst).
    pub fn tell(&mut self, values: &[f64]) -> Result<()> {
        let Some(pending) = self.pending.take() else {
            return Err(config_err("tell", "called without a pending ask"));
        };
        self.tell_ys(pending, values)
    }

    /// Update from points of your own (for example repaired into bounds) and their values. The
    /// update uses `y = (x − m)/σ` of each point.
    pub fn tell_points(&mut self, points: &[Vec<f64>], values: &[f64]) -> Result<()> {
        if points.len() != self.p.lambda {
            return Err(Error::FitnessLength {
                expected: self.p.lambda,
                got: points.len(),
            });
        }
        let mut ys = Vec::with_capacity(points.len());
        for (k, x) in points.iter().enumerate() {
            if x.len() != self.n {
                return Err(config_err(
                    "points",
                    format!(
                        "point {k} has {} coordinates; the dimension is {}",
                        x.len(),
                        self.n
                    ),
                ));
            }
            check_finite("points", x)?;
            ys.push(
                x.iter()
                    .zip(&self.s.mean)
                    .map(|(x, m)| (x - m) / self.s.sigma)
                    .collect(),
            );
        }
        self.pending = None;
        let ys = Rows::from_vecs(&ys, self.n);
        self.tell_ys(Pending { ys, zs: None }, values)
    }

    pub(super) fn tell_ys(&mut self, pending: Pending, values: &[f64]) -> Result<()> {
        let lambda = self.p.lambda;
        if values.len() != lambda {
            self.pending = Some(pending);
            return Err(Error::FitnessLength {
                expected: lambda,
                got: values.len(),
            });
        }
        if let Some(k) = values.iter().position(|v| v.is_nan()) {
            self.pending = Some(pending);
            return Err(Error::NonFiniteFitness {
                member: k,
                generation: self.s.generation,
                value: f32::NAN,
            });
        }
        let Pending { ys, zs } = pending;
        let n = self.n;
        let nf = n as f64;
        let p = self.p.clone();
        let mut order: Vec<usize> = (0..lambda).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));

        // Best so far, evaluated at x = m + σ y.
        let best = order[0];
        if values[best] < self.s.best_f {
            self.s.best_f = values[best];
            self.s.best_x = self
                .s
                .mean
                .iter()
                .zip(ys.row(best))
                .map(|(m, y)| m + self.s.sigma * y)
                .collect();
        }
        self.s.evals += lambda as u64;

        // Mean.
        let mut yw = vec![0.0; n];
        for (i, &k) in order[..p.mu].iter().enumerate() {
            for (a, y) in yw.iter_mut().zip(ys.row(k)) {
                *a += p.weights[i] * y;
            }
        }
        let step = self.config.cmean * self.s.sigma;
        for (m, y) in self.s.mean.iter_mut().zip(&yw) {
            *m += step * y;
        }

        // Step-size path and σ: C^{-1/2} ⟨y⟩ = B ⟨z⟩ when the samples are unrepaired (and
        // L⁻¹ ⟨y⟩ = ⟨z⟩ with the Cholesky factor).
        let cinv_yw = match &zs {
            Some(zs) => {
                let mut zw = vec![0.0; n];
                for (i, &k) in order[..p.mu].iter().enumerate() {
                    for (a, z) in zw.iter_mut().zip(zs.row(k)) {
                        *a += p.weights[i] * z;
                    }
                }
                match self.config.covariance {
                    Covariance::Full if !self.p.cholesky => {
                        let mut bz = vec![0.0; self.bt_stride()];
                        self.times_a_into(&[&zw], &mut bz);
                        bz.truncate(n);
                        bz
                    }
                    _ => zw,
                }
            }
            None => self.inv_sqrt(&yw),
        };
        let cs_fac = (p.cs * (2.0 - p.cs) * p.mueff).sqrt();
        for (ps, v) in self.s.ps.iter_mut().zip(&cinv_yw) {
            *ps = (1.0 - p.cs) * *ps + cs_fac * v;
        }
        let ps_norm = self.s.ps.iter().map(|v| v * v).sum::<f64>().sqrt();
        let g1 = (self.s.generation + 1) as f64;
        // pycma's stall test on the squared length: ‖pσ‖²/(1 − (1 − cσ)^{2g})/n − 1 < 1 + 4/(n + 1).
        let hsig = ps_norm * ps_norm / (1.0 - (1.0 - p.cs).powf(2.0 * g1)) / nf - 1.0
            < 1.0 + 4.0 / (nf + 1.0);
        let hsig_f = if hsig { 1.0 } else { 0.0 };
        let cc_fac = (p.cc * (2.0 - p.cc) * p.mueff).sqrt();
        for (pc, y) in self.s.pc.iter_mut().zip(&yw) {
            *pc = (1.0 - p.cc) * *pc + hsig_f * cc_fac * y;
        }

        // Covariance: rank-one + rank-μ, with the negative weights rescaled by n/‖C^{-1/2}y‖².
        let mut w_eff = Vec::with_capacity(lambda);
        for (i, &k) in order.iter().enumerate() {
            let w = p.weights[i];
            if w < 0.0 {
                let norm2: f64 = match &zs {
                    Some(zs) => zs.row(k).iter().map(|v| v * v).sum(),
                    None => self.inv_sqrt(ys.row(k)).iter().map(|v| v * v).sum(),
                };
                w_eff.push(w * nf / norm2.max(1e-300));
            } else {
                w_eff.push(w);
            }
        }
        let sum_w: f64 = p.weights.iter().sum();
        let delta_h = (1.0 - hsig_f) * p.cc * (2.0 - p.cc);
        let decay = 1.0 + p.c1 * delta_h - p.c1 - p.cmu * sum_w;
        match self.config.covariance {
            Covariance::Diagonal => {
                // Σ_i w_i y_i², every coordinate summing over the samples in order.
                let mut rank_mu = vec![0.0; n];
                for (i, &k) in order.iter().enumerate() {
                    if w_eff[i] != 0.0 {
                        for (r, y) in rank_mu.iter_mut().zip(ys.row(k)) {
                            *r += w_eff[i] * y * y;
                        }
                    }
                }
                for ((c, pc), r) in self.s.c.iter_mut().zip(&self.s.pc).zip(&rank_mu) {
                    *c = decay * *c + p.c1 * pc * pc + p.cmu * r;
                }
            }
            Covariance::Full => {
                // Four rows per task (in parallel for large problems), in register tiles of
                // TILE columns up to the diagonal: every entry sums its terms in sample order
                // whatever the thread count. Zero-weight terms add exact zeros.
                let pc = &self.s.pc;
                let rows: Vec<usize> = order.iter().map(|&k| k * ys.stride).collect();
                let w: Vec<f64> = w_eff.iter().map(|w| p.cmu * w).collect();
                let update_rows = |(t, block): (usize, &mut [f64])| {
                    let a0 = 4 * t;
                    let nrows = block.len() / n;
                    // coef[r][i] = cμ w_i y_{order[i]}[a0 + r]: row a0 + r's coefficient of
                    // term i (rows past n: zeros).
                    let mut coef = vec![vec![0.0; lambda]; 4];
                    for (r, cr) in coef.iter_mut().enumerate().take(nrows) {
                        for ((c, &k), w) in cr.iter_mut().zip(&order).zip(&w) {
                            *c = w * ys.data[k * ys.stride + a0 + r];
                        }
                    }
                    for c0 in (0..=(a0 + nrows - 1)).step_by(TILE) {
                        let mut acc = [[0.0; TILE]; 4];
                        for (r, row) in block.chunks(n).enumerate() {
                            let a = a0 + r;
                            for c in 0..TILE.min(n - c0) {
                                acc[r][c] = decay * row[c0 + c] + p.c1 * pc[a] * pc[c0 + c];
                            }
                        }
                        tile4(
                            &mut acc,
                            &ys.data,
                            &rows,
                            c0,
                            [&coef[0], &coef[1], &coef[2], &coef[3]],
                        );
                        for (r, row) in block.chunks_mut(n).enumerate() {
                            let a = a0 + r;
                            let end = (a + 1).min(c0 + TILE);
                            if end > c0 {
                                row[c0..end].copy_from_slice(&acc[r][..end - c0]);
                            }
                        }
                    }
                };
                let c = &mut self.s.c;
                if lambda * n * n >= PARALLEL_WORK {
                    c.par_chunks_mut(4 * n).enumerate().for_each(update_rows);
                } else {
                    c.chunks_mut(4 * n).enumerate().for_each(update_rows);
                }
                // Mirror the lower triangle.
                for i in 0..n {
                    for j in 0..i {
                        c[j * n + i] = c[i * n + j];
                    }
                }
            }
        }

        self.s.sigma *= ((p.cs / p.damps) * (ps_norm / p.chi_n - 1.0))
            .min(1.0)
            .exp();

        // Flat fitness: the best and the ⌈0.7λ⌉-th are equal at different points → widen (as
        // pycma does). Equal values at the same point (points repaired onto one corner of a
        // box) say nothing about flatness.
        let kth = ((0.7 * lambda as f64).ceil() as usize).min(lambda - 1);
        if values[order[0]] == values[order[kth]] && ys.row(order[0]) != ys.row(order[kth]) {
            self.s.sigma *= (0.2 + p.cs / p.damps).exp();
        }

        self.s.generation += 1;
        self.update_eigen(false);

        // Histories for the stopping criteria.
        let median = values[order[lambda / 2]];
        self.s.last_range = values[order[lambda - 1]] - values[order[0]];
        self.s.best_history.push(values[order[0]]);
        self.s.median_history.push(median);
        let keep = self.history_len();
        for h in [&mut self.s.best_history, &mut self.s.median_history] {
            if h.len() > keep {
                h.drain(..h.len() - keep);
            }
        }
        Ok(())
    }

    pub(super) fn history_len(&self) -> usize {
        let n = self.n as f64;
        let l = self.p.lambda as f64;
        let stag = 120.0 + 30.0 * n / l;
        let g = 0.2 * self.s.generation as f64;
        stag.max(g).min(20000.0) as usize
    }

    pub(super) fn update_eigen(&mut self, force: bool) {
        let n = self.n;
        match self.config.covariance {
            Covariance::Diagonal => {
                for (d, c) in self.s.d.iter_mut().zip(&self.s.c) {
                    *d = c.max(1e-300).sqrt();
                }
            }
            Covariance::Full => {
                if self.p.cholesky {
                    self.refresh_factor();
                    self.rebuild_bt();
                }
                if !force && self.s.generation - self.s.eigen_generation < self.p.eigen_every {
                    return;
                }
                self.s.eigen_generation = self.s.generation;
                let m = DMatrix::from_row_slice(n, n, &self.s.c);
                let eig = SymmetricEigen::new(m);
                for k in 0..n {
                    self.s.d[k] = eig.eigenvalues[k].max(1e-300).sqrt();
                    for i in 0..n {
                        self.s.b[i * n + k] = eig.eigenvectors[(i, k)];
                    }
                }
                if !self.p.cholesky {
                    self.rebuild_bt();
                }
            }
        }
    }

    /// `s.factor ← L` with `L Lᵀ = C`. Should rounding have made C numerically indefinite
    /// (far beyond the condition the `condition_cov` stop allows), its diagonal is raised by
    /// 1e-14, 1e-13, … times its largest entry until the factorisation succeeds (after 16
    /// tries, a non-finite C, L is the square root of C's diagonal).
    pub(super) fn refresh_factor(&mut self) {
        let n = self.n;
        let max_diag = (0..n).map(|i| self.s.c[i * n + i]).fold(0.0, f64::max);
        let mut jitter = 0.0;
        for _ in 0..16 {
            let mut m = DMatrix::from_row_slice(n, n, &self.s.c);
            for i in 0..n {
                m[(i, i)] += jitter;
            }
            if let Some(ch) = Cholesky::new(m) {
                let l = ch.l();
                self.s.factor.resize(n * n, 0.0);
                for i in 0..n {
                    for j in 0..n {
                        self.s.factor[i * n + j] = l[(i, j)];
                    }
                }
                if jitter > 0.0 {
                    for i in 0..n {
                        self.s.c[i * n + i] += jitter;
                    }
                }
                return;
            }
            jitter = if jitter == 0.0 {
                1e-14 * max_diag.max(1e-300)
            } else {
                jitter * 10.0
            };
        }
        self.s.factor = vec![0.0; n * n];
        for i in 0..n {
            self.s.factor[i * n + i] = self.s.c[i * n + i].max(1e-300).sqrt();
        }
    }

    /// The first local stopping criterion that holds, if any (checked after each tell).
    pub fn should_stop(&self) -> Option<CmaStop> {
        let s = &self.s;
        let n = self.n;
        let max_d = s.d.iter().cloned().fold(0.0, f64::max);
        // The largest coordinate standard deviation of C (current every generation, where D
        // may lag behind when sampling from the Cholesky factor).
        let max_var = match self.config.covariance {
            Covariance::Full => (0..n).map(|i| s.c[i * n + i]).fold(0.0, f64::max),
            Covariance::Diagonal => s.c.iter().cloned().fold(0.0, f64::max),
        };
        let spread = s.sigma * max_d.max(max_var.sqrt());
        if !(spread <= DIVERGENCE_LIMIT && s.mean.iter().all(|m| m.abs() <= DIVERGENCE_LIMIT)) {
            return Some(CmaStop::Diverged);
        }
        if s.generation == 0 {
            return None;
        }
        if s.sigma / self.config.sigma0 > 1e20 * max_d {
            return Some(CmaStop::TolUpSigma);
        }
        let l = self.p.lambda as f64;
        let nf = n as f64;
        // tolfun: the recent best values and the last generation span < 1e-11.
        let recent = (10.0 + (30.0 * nf / l).ceil()) as usize;
        if s.best_history.len() >= recent {
            let h = &s.best_history[s.best_history.len() - recent..];
            let max = h.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let min = h.iter().cloned().fold(f64::INFINITY, f64::min);
            if max - min < 1e-11 && s.last_range < 1e-11 {
                return Some(CmaStop::TolFun);
            }
        }
        // tolx.
        let diag = |i: usize| match self.config.covariance {
            Covariance::Full => s.c[i * n + i],
            Covariance::Diagonal => s.c[i],
        };
        if (0..n).all(|i| s.sigma * diag(i).sqrt() < 1e-11 && s.sigma * s.pc[i].abs() < 1e-11) {
            return Some(CmaStop::TolX);
        }
        if self.axis_ratio().powi(2) > 1e14 {
            return Some(CmaStop::ConditionCov);
        }
        // noeffectaxis: one axis per generation, cycling.
        let k = (s.generation % n as u64) as usize;
        let axis_moves = match self.config.covariance {
            Covariance::Full => (0..n).any(|i| {
                let step = 0.1 * s.sigma * s.d[k] * s.b[i * n + k];
                s.mean[i] + step != s.mean[i]
            }),
            Covariance::Diagonal => s.mean[k] + 0.1 * s.sigma * s.d[k] != s.mean[k],
        };
        if !axis_moves {
            return Some(CmaStop::NoEffectAxis);
        }
        if (0..n).any(|i| s.mean[i] + 0.2 * s.sigma * diag(i).sqrt() == s.mean[i]) {
            return Some(CmaStop::NoEffectCoord);
        }
        // Stagnation: the medians of the last 20 generations are no better than those of the
        // first 20 of the window, for the best and the median values.
        let window = self.history_len();
        if s.generation as usize > window && s.best_history.len() >= window && window >= 40 {
            let med = |v: &[f64]| {
                let mut v = v.to_vec();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let stalled = |h: &[f64]| med(&h[h.len() - 20..]) >= med(&h[..20]);
            if stalled(&s.best_history) && stalled(&s.median_history) {
                return Some(CmaStop::Stagnation);
            }
        }
        if s.generation as f64 > 100.0 + 150.0 * (nf + 3.0).powi(2) / l.sqrt() {
            return Some(CmaStop::MaxIter);
        }
        None
    }
}
