//! IPOP/BIPOP restarts: the policy and the schedule of λ and σ₀ each restart gets.

use super::*;

/// Restart policy (CMA-ES methods only). Serialised as `"none"`, `"ipop"`, `"bipop"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restarts {
    /// One run.
    #[default]
    None,
    /// IPOP (Auger & Hansen 2005): restart with twice the population each time.
    Ipop,
    /// BIPOP (Hansen 2009): interleave large-population IPOP runs and small-population runs
    /// with a smaller σ, giving each regime about the same budget.
    Bipop,
}

impl Restarts {
    /// Parse `none`, `ipop`, `bipop`.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "none" => Restarts::None,
            "ipop" => Restarts::Ipop,
            "bipop" => Restarts::Bipop,
            other => {
                return Err(config_err(
                    "restarts",
                    format!("`{other}` is unknown; valid: none, ipop, bipop"),
                ));
            }
        })
    }
}

/// Reads the names [`Restarts::parse`] knows; anything else is an error listing them (not
/// serde's "invalid type: unit variant").
impl<'de> Deserialize<'de> for Restarts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Names;
        impl serde::de::Visitor<'_> for Names {
            type Value = Restarts;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("one of \"none\", \"ipop\", \"bipop\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Restarts, E> {
                Restarts::parse(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(Names)
    }
}

/// The IPOP/BIPOP bookkeeping shared by [`mod@crate::minimize`] and [`CmaStrategy`]: which λ
/// and σ₀ the next run gets. IPOP doubles λ at every restart (up to `max_lambda`); BIPOP runs
/// a small-population regime (λ = ⌊λ₀ (½ λ_large/λ₀)^{u²}⌋, σ₀·10^{−2u'}) whenever it has
/// used fewer evaluations than the large one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartSchedule {
    policy: Restarts,
    lambda_default: usize,
    sigma0: f64,
    max_lambda: usize,
    lambda_large: usize,
    budget_large: u64,
    budget_small: u64,
    current_large: bool,
    restarts: usize,
}

impl RestartSchedule {
    /// Before the first run (which uses λ₀ = `lambda_default` and `sigma0`).
    pub fn new(policy: Restarts, lambda_default: usize, sigma0: f64, max_lambda: usize) -> Self {
        Self {
            policy,
            lambda_default,
            sigma0,
            max_lambda: max_lambda.max(lambda_default),
            lambda_large: lambda_default,
            budget_large: 0,
            budget_small: 0,
            current_large: true,
            restarts: 0,
        }
    }

    /// Restarts so far.
    pub fn restarts(&self) -> usize {
        self.restarts
    }

    /// The run that just ended used `evals` evaluations: (λ, σ₀) of the next run, drawing
    /// BIPOP's uniforms from `rng`.
    pub fn next(&mut self, evals: u64, rng: &mut StdRng) -> (usize, f64) {
        if self.current_large {
            self.budget_large += evals;
        } else {
            self.budget_small += evals;
        }
        self.restarts += 1;
        let l0 = self.lambda_default as f64;
        if self.policy == Restarts::Bipop && self.budget_small < self.budget_large {
            let u: f64 = rng.random();
            let lam = (l0 * (0.5 * self.lambda_large as f64 / l0).powf(u * u))
                .floor()
                .max(2.0) as usize;
            self.current_large = false;
            (lam, self.sigma0 * 10f64.powf(-2.0 * rng.random::<f64>()))
        } else {
            self.lambda_large = self.lambda_large.saturating_mul(2).min(self.max_lambda);
            self.current_large = true;
            (self.lambda_large, self.sigma0)
        }
    }
}
