//! CMA-ES behind the [`crate::Strategy`] trait.

use super::*;

/// CMA-ES behind the [`crate::Strategy`] trait, so the [`crate::Trainer`], the CLI, the
/// dashboard, checkpoints and MPI drive it like EGGROLL (maximising fitness). The search runs in
/// f64 over all parameters flattened in order; the population handed to evaluators is the
/// samples `y` as full noise (`Pairing::Independent`), so member `k` is `θ + σ·y_k` with θ
/// the CMA mean. For more than a few thousand parameters use the diagonal variant.
#[derive(Debug, Clone)]
pub struct CmaStrategy {
    es: CmaEs,
    numels: Vec<usize>,
    asked: Option<u64>,
    restart: Option<RestartState>,
}

/// Restarts of a [`CmaStrategy`]: the schedule, where every run starts, the first run's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RestartState {
    schedule: RestartSchedule,
    x0: Vec<f64>,
    base: CmaConfig,
}

#[derive(Serialize, Deserialize)]
struct CmaStrategyJson {
    config: CmaConfig,
    state: CmaState,
    #[serde(default)]
    restart: Option<RestartState>,
}

impl CmaStrategy {
    /// Start at `params` (flattened) with the config's σ₀ and λ.
    pub fn new(config: CmaConfig, params: &Params) -> Result<Self> {
        if params.is_empty() {
            return Err(config_err("params", "the parameter set is empty"));
        }
        let host = params.to_host()?;
        let x0: Vec<f64> = host.iter().flatten().map(|&v| f64::from(v)).collect();
        Ok(Self {
            es: CmaEs::new(&x0, &config)?,
            numels: host.iter().map(Vec::len).collect(),
            asked: None,
            restart: None,
        })
    }

    /// Restart (IPOP or BIPOP) whenever a local stopping criterion holds: every run starts
    /// again at the initial parameters with a new seed, λ growing up to `max_lambda`. The
    /// trainer keeps the best member seen across runs.
    pub fn with_restarts(mut self, policy: Restarts, max_lambda: usize) -> Self {
        self.restart = (policy != Restarts::None).then(|| RestartState {
            schedule: RestartSchedule::new(
                policy,
                self.es.population_size(),
                self.es.config.sigma0,
                max_lambda,
            ),
            x0: self.es.mean().to_vec(),
            base: self.es.config.clone(),
        });
        self
    }

    /// Restarts performed so far.
    pub fn restarts(&self) -> usize {
        self.restart.as_ref().map_or(0, |r| r.schedule.restarts())
    }

    /// After a tell: start the next run when the current one has converged.
    fn maybe_restart(&mut self) -> Result<()> {
        let Some(r) = self.restart.as_mut() else {
            return Ok(());
        };
        if self.es.should_stop().is_none() {
            return Ok(());
        }
        let k = r.schedule.restarts() as u64 + 1;
        let mut rng = StdRng::seed_from_u64(r.base.seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (lambda, sigma0) = r.schedule.next(self.es.evals(), &mut rng);
        let config = CmaConfig {
            population_size: lambda,
            sigma0,
            seed: r.base.seed.wrapping_add(k.wrapping_mul(0x1000_0001)),
            ..r.base.clone()
        };
        self.es = CmaEs::new(&r.x0, &config)?;
        Ok(())
    }

    /// The f64 search state.
    pub fn cma(&self) -> &CmaEs {
        &self.es
    }
}

impl Strategy for CmaStrategy {
    fn name(&self) -> &str {
        match self.es.config.covariance {
            Covariance::Full => "cmaes",
            Covariance::Diagonal => "sep_cmaes",
        }
    }
    fn population_size(&self) -> usize {
        self.es.population_size()
    }
    fn sigma(&self, _generation: u64) -> f32 {
        self.es.sigma() as f32
    }
    fn learning_rate(&self, _generation: u64) -> f32 {
        1.0
    }
    fn ask(&mut self, params: &Params, generation: u64) -> Result<Population> {
        if params.len() != self.numels.len() {
            return Err(config_err(
                "params",
                format!(
                    "the strategy was built for {} parameters, got {}",
                    self.numels.len(),
                    params.len()
                ),
            ));
        }
        let lambda = self.es.population_size();
        // The pending samples are kept until told, so asking twice gives the same population.
        self.es.sample();
        let device = params.device();
        let mut noise = Vec::with_capacity(self.numels.len());
        let mut offset = 0;
        for &numel in &self.numels {
            let mut eps = Vec::with_capacity(lambda * numel);
            for k in 0..lambda {
                let y = self.es.pending_y(k).expect("sample sets pending");
                eps.extend(y[offset..offset + numel].iter().map(|&v| v as f32));
            }
            noise.push(Noise::Full {
                eps: Tensor::from_vec(eps, (lambda, numel), &device)?,
            });
            offset += numel;
        }
        self.asked = Some(generation);
        Ok(Population {
            generation,
            epoch: generation,
            seed: self.es.config.seed,
            size: lambda,
            sigma: self.es.sigma() as f32,
            pairing: Pairing::Independent,
            noise,
        })
    }
    fn tell(
        &mut self,
        params: &mut Params,
        population: &Population,
        fitness: &[f32],
    ) -> Result<TellReport> {
        if self.asked != Some(population.generation) {
            return Err(config_err(
                "tell",
                format!(
                    "generation {} was not the last one asked",
                    population.generation
                ),
            ));
        }
        let sigma = self.es.sigma() as f32;
        let before = self.es.mean().to_vec();
        // CMA-ES minimises; the trainer maximises.
        let values: Vec<f64> = fitness.iter().map(|&f| -f64::from(f)).collect();
        self.es.tell(&values)?;
        self.asked = None;
        self.maybe_restart()?;
        let mean = self.es.mean();
        // The parameters are f32: a run that diverged (and did not restart) stops here, before
        // its mean or its next points overflow them.
        let limit = f64::from(f32::MAX) / 16.0;
        let spread = self.es.sigma() * self.es.s.d.iter().cloned().fold(0.0, f64::max);
        if self.es.should_stop() == Some(CmaStop::Diverged)
            || !(spread <= limit && mean.iter().all(|m| m.abs() <= limit))
        {
            return Err(Error::Diverged {
                strategy: self.name().to_string(),
                generation: population.generation,
                reason: format!(
                    "the mean reached |x| = {:.3e} and σ·max(D) = {spread:.3e}, beyond f32 \
                     parameters' range",
                    mean.iter().fold(0.0f64, |a, m| a.max(m.abs()))
                ),
            });
        }
        let update_norm = mean
            .iter()
            .zip(&before)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt() as f32;
        let mut offset = 0;
        for (i, &numel) in self.numels.iter().enumerate() {
            let v: Vec<f32> = mean[offset..offset + numel]
                .iter()
                .map(|&x| x as f32)
                .collect();
            let dims = params
                .iter()
                .nth(i)
                .expect("checked length")
                .dims()
                .to_vec();
            let device = params.device();
            params.set(i, Tensor::from_vec(v, dims, &device)?)?;
            offset += numel;
        }
        Ok(TellReport {
            update_norm,
            sigma,
            lr: 1.0,
        })
    }
    fn set_sigma(&mut self, sigma: f32) -> Result<()> {
        crate::error::check_positive("sigma", sigma)?;
        self.es.s.sigma = f64::from(sigma);
        Ok(())
    }
    fn state(&self) -> Result<StrategyState> {
        let json = serde_json::to_value(CmaStrategyJson {
            config: self.es.config.clone(),
            state: self.es.s.clone(),
            restart: self.restart.clone(),
        })
        .map_err(|e| Error::Param {
            name: "cma state".into(),
            reason: e.to_string(),
        })?;
        Ok(StrategyState {
            json,
            tensors: Vec::new(),
        })
    }
    fn load_state(&mut self, state: StrategyState, _params: &Params) -> Result<()> {
        let j: CmaStrategyJson = serde_json::from_value(state.json).map_err(|e| Error::Param {
            name: "cma state".into(),
            reason: e.to_string(),
        })?;
        let mismatch = || Error::Param {
            name: "cma state".into(),
            reason: "the checkpoint's CMA-ES config (or restart policy) differs from this run's"
                .into(),
        };
        // All or nothing: build the restored search aside, then swap it in.
        let es = match (&self.restart, &j.restart) {
            (None, None) if j.config == self.es.config => {
                let mut es = self.es.clone();
                es.load_state(j.state)?;
                es
            }
            (Some(mine), Some(theirs))
                if mine.base == theirs.base
                    && mine.x0 == theirs.x0
                    && j.config.covariance == mine.base.covariance =>
            {
                let mut es = CmaEs::new(&j.state.mean, &j.config)?;
                es.load_state(j.state)?;
                es
            }
            _ => return Err(mismatch()),
        };
        self.es = es;
        self.restart = j.restart;
        self.asked = None;
        Ok(())
    }
}
