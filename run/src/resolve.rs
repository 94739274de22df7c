//! Resolving a run's configuration: the task's defaults ← a config file ← `--set key=value`
//! ← flags, with the flat keys of earlier versions read as their sectioned twins. Errors name
//! the key and where its value came from.

use crate::config::{ModelKind, RunConfig, config_err, merge};
use crate::error::{Error, Result};
use crate::task;

/// Flat keys of earlier versions and the sectioned keys they now are: accepted in config files
/// (old run directories resume), in `--set` and in overrides.
pub const LEGACY_KEYS: &[(&str, &str)] = &[
    ("generations", "stop.generations"),
    ("time_budget_s", "stop.time_budget_s"),
    ("target_fitness", "stop.target_fitness"),
    ("early_stop_at", "stop.early_stop_at"),
    ("episodes", "evaluation.episodes"),
    ("eval_episodes", "evaluation.eval_episodes"),
    ("eval_every", "evaluation.eval_every"),
    ("keep_best_eval", "evaluation.keep_best_eval"),
    ("solved_at", "evaluation.solved_at"),
    ("nonfinite", "evaluation.nonfinite"),
    ("checkpoint_every", "checkpoints.every"),
    ("lockstep_check_every", "checkpoints.lockstep_every"),
    ("data_dir", "data.dir"),
    ("batch", "data.batch"),
    ("fitness", "data.fitness"),
    ("model", "policy.model"),
];

/// The sectioned key of `key`: a legacy flat key, or a dotted key under one
/// (`generations.x` → `stop.generations.x`), is rewritten; any other key is itself.
pub fn canonical_key(key: &str) -> std::borrow::Cow<'_, str> {
    let (head, tail) = match key.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (key, None),
    };
    match (LEGACY_KEYS.iter().find(|(old, _)| *old == head), tail) {
        (Some((_, new)), None) => (*new).into(),
        (Some((_, new)), Some(t)) => format!("{new}.{t}").into(),
        (None, _) => key.into(),
    }
}

/// Move legacy flat keys of a config file's table into their sections. A file that sets both
/// a legacy key and its sectioned twin is an error naming both (neither silently wins).
fn migrate(table: &mut toml::Table) -> Result<()> {
    for (old, new) in LEGACY_KEYS {
        if let Some(v) = table.remove(*old) {
            let (section, leaf) = new.split_once('.').expect("sectioned keys are dotted");
            if table
                .get(section)
                .and_then(|s| s.as_table())
                .is_some_and(|s| s.contains_key(leaf))
            {
                return Err(config_err(
                    new,
                    format!(
                        "is set twice: as `{old}` (its older flat name) and as `{leaf}` under                          `[{section}]`; keep one"
                    ),
                ));
            }
            set_dotted(table, new, v)?;
        }
    }
    Ok(())
}

/// Default configuration of a task (the registry's entry sets its own defaults).
pub fn task_default(name: &str) -> Result<RunConfig> {
    Ok(defaults_of(task::find(name)?))
}

/// The default configuration of `task` (any [`task::Task`], registered or not).
pub fn defaults_of(task: &dyn task::Task) -> RunConfig {
    let mut c = RunConfig {
        task: task.name().into(),
        ..RunConfig::default()
    };
    task.defaults(&mut c);
    c
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts
        .pop()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| config_err(key, "is an empty key"))?;
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry.as_table_mut().ok_or_else(|| {
            config_err(
                key,
                format!("cannot be set: `{p}` holds a value, not a table of keys"),
            )
        })?;
    }
    if last == "kind" && t.get("kind") != Some(&value) {
        // A different variant of a tagged enum (optimizer, schedules): start from its defaults.
        t.clear();
    }
    t.insert(last.to_string(), value);
    Ok(())
}

fn parse_value(raw: &str) -> Result<toml::Value> {
    // A TOML value if it parses as one (numbers, booleans, arrays, inline tables), else a string.
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => Ok(t.remove("v").expect("key present")),
        Err(_) if raw.parse::<i128>().is_ok() => Err(Error::Input {
            what: format!("`{raw}`"),
            reason: format!(
                "out of range: config integers are signed 64-bit (at most {})",
                i64::MAX
            ),
        }),
        Err(_) => Ok(toml::Value::String(raw.to_string())),
    }
}

/// Dotted paths of every leaf of `table` (`es.optimizer.kind`, ...).
fn leaf_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => leaf_keys(t, &key, out),
            _ => out.push(key),
        }
    }
}

/// Where each key that is not a default came from, for error messages.
#[derive(Default)]
struct Origins(Vec<(String, String)>);

impl Origins {
    fn set(&mut self, key: &str, origin: String) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), origin));
    }

    /// The origin of `path` (or of the closest key it lies under or that lies under it).
    fn of(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| {
                k == path
                    || path.starts_with(&format!("{k}."))
                    || path.starts_with(&format!("{k}["))
                    || k.starts_with(&format!("{path}."))
            })
            .map(|(_, o)| o.as_str())
    }
}

/// Resolve: task defaults ← config file ← `--set` overrides (`key=value`) ← `flags` (dotted
/// keys with typed values). Errors name the key and where its value came from.
pub fn resolve(
    task: &str,
    file: Option<&std::path::Path>,
    sets: &[String],
    flags: &[(&str, toml::Value)],
) -> Result<RunConfig> {
    resolve_with(task::find(task)?, file, sets, flags)
}

/// Keys added after run directories were first written. A saved `config.toml` without one
/// ran with its neutral value (the feature did not exist), so resuming it reads that value,
/// not the task's current default (`es.top_pairs = 4` or `evaluation.reward_shift = 1` for
/// an old Hopper run would change what it optimises).
const ADDED_KEYS: &[&str] = &["es.top_pairs", "evaluation.reward_shift", "policy.init"];

/// [`resolve`] for a task given as an object (e.g. one defined outside the registry).
pub fn resolve_with(
    task_def: &dyn task::Task,
    file: Option<&std::path::Path>,
    sets: &[String],
    flags: &[(&str, toml::Value)],
) -> Result<RunConfig> {
    resolve_inner(task_def, file, false, sets, flags)
}

/// [`resolve_with`] for a run directory's saved `config.toml` (`--resume`): the
/// keys added since it was written (`es.top_pairs`, `evaluation.reward_shift`, `policy.init`)
/// take their neutral values, as when it ran.
pub fn resolve_saved(
    task_def: &dyn task::Task,
    saved: &std::path::Path,
    flags: &[(&str, toml::Value)],
) -> Result<RunConfig> {
    resolve_inner(task_def, Some(saved), true, &[], flags)
}

fn resolve_inner(
    task_def: &dyn task::Task,
    file: Option<&std::path::Path>,
    saved: bool,
    sets: &[String],
    flags: &[(&str, toml::Value)],
) -> Result<RunConfig> {
    let task = task_def.name();
    let mut file_table = None;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(source.kind(), format!("reading config file: {source}")),
        })?;
        let user: toml::Table = text.parse().map_err(|e| Error::Input {
            what: format!("config file {}", path.display()),
            reason: format!("not valid TOML: {e}"),
        })?;
        let mut user = user;
        migrate(&mut user)?;
        if saved {
            let neutral = toml::Table::try_from(RunConfig::default()).expect("serialises");
            let get = |t: &toml::Table, key: &str| {
                let (section, leaf) = key.split_once('.').expect("dotted");
                t.get(section).and_then(|s| s.get(leaf)).cloned()
            };
            for key in ADDED_KEYS {
                if get(&user, key).is_none()
                    && let Some(v) = get(&neutral, key)
                {
                    set_dotted(&mut user, key, v)?;
                }
            }
        }
        file_table = Some((path, user));
    }
    // The user's layers (file ← --set ← flags) over a base config.
    let layer = |base: &RunConfig| -> Result<(toml::Table, Origins)> {
        let mut table = toml::Table::try_from(base).expect("the defaults serialise");
        let mut origins = Origins::default();
        if let Some((path, user)) = &file_table {
            let mut keys = Vec::new();
            leaf_keys(user, "", &mut keys);
            for k in keys {
                origins.set(&k, format!("config file {}", path.display()));
            }
            merge(&mut table, user.clone());
        }
        for s in sets {
            let set_err = |reason: String| Error::Input {
                what: format!("--set `{s}`"),
                reason,
            };
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| set_err("expected key=value".into()))?;
            let value = parse_value(v.trim()).map_err(|e| set_err(e.to_string()))?;
            let key = canonical_key(k.trim());
            set_dotted(&mut table, &key, value).map_err(|e| set_err(e.to_string()))?;
            origins.set(&key, format!("--set {s}"));
        }
        for (k, v) in flags {
            let k = canonical_key(k);
            set_dotted(&mut table, &k, v.clone())?;
            origins.set(&k, format!("a command-line flag ({k} = {v})"));
        }
        Ok((table, origins))
    };
    let mut base = defaults_of(task_def);
    let (mut table, mut origins) = layer(&base)?;
    // A model the user picked starts from its own defaults: layer again over those.
    let picked = table
        .get("policy")
        .and_then(|p| p.get("model"))
        .and_then(|m| m.clone().try_into::<ModelKind>().ok());
    if let Some(model) = picked.filter(|m| *m != base.policy.model) {
        base.policy.model = model;
        task_def.model_defaults(model, &mut base);
        (table, origins) = layer(&base)?;
    }
    // Deserialise with the path of the failing key, and say where its value came from.
    let mut config: RunConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| {
            let key = e.path().to_string();
            let reason = match origins.of(&key) {
                Some(o) => format!("(from {o}): {}", e.inner()),
                None => format!("is invalid: {}", e.inner()),
            };
            config_err(&key, reason)
        })?;
    if config.task != task {
        return Err(config_err(
            "task",
            format!("is `{}` but the command trains `{task}`", config.task),
        ));
    }
    // A task's default for one strategy family (Swimmer's CMA-ES restarts, Hopper's ARS
    // top pairs) gives way when the user picks a strategy it does not apply to; the same
    // key set by the user is still refused by name.
    if config.strategy != base.strategy {
        if !config.strategy.is_cma() && origins.of("es.restarts").is_none() {
            config.es.restarts = eggroll_core::cmaes::Restarts::None;
        }
        if !config.strategy.takes_top_pairs() && origins.of("es.top_pairs").is_none() {
            config.es.top_pairs = 0;
        }
    }
    config.es.validate()?;
    if config.stop.generations == 0 {
        return Err(config_err("stop.generations", "is 0; must be ≥ 1"));
    }
    if config.data.batch == 0 {
        return Err(config_err("data.batch", "is 0; must be ≥ 1"));
    }
    if config.evaluation.episodes == 0 || config.evaluation.eval_episodes == 0 {
        return Err(config_err(
            "evaluation.episodes",
            "and `evaluation.eval_episodes` must be ≥ 1",
        ));
    }
    let shift = config.evaluation.reward_shift;
    if !shift.is_finite() {
        return Err(config_err(
            "evaluation.reward_shift",
            format!("is {shift}; must be finite"),
        ));
    }
    if shift != 0.0 && task_def.control().is_none() {
        return Err(config_err(
            "evaluation.reward_shift",
            format!("is {shift}; it shifts control tasks' rewards, and `{task}` has none"),
        ));
    }
    if config.policy.hidden.contains(&0) {
        return Err(config_err(
            "policy.hidden",
            format!("has a zero width: {:?}", config.policy.hidden),
        ));
    }
    if config.problem.rows == 0 || config.problem.cols == 0 {
        return Err(config_err("problem.rows", "and `problem.cols` must be ≥ 1"));
    }
    if let Some(t) = config.stop.time_budget_s
        && !(t > 0.0 && t.is_finite())
    {
        return Err(config_err(
            "stop.time_budget_s",
            format!("is {t}; must be finite and > 0"),
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StrategyKind;

    /// A saved config written before `es.top_pairs`, `evaluation.reward_shift` and
    /// `policy.init` existed resumes with their neutral values, not Hopper's ARS defaults;
    /// the same file as a new run's `--config` takes the task's defaults for them.
    #[test]
    fn a_saved_config_without_added_keys_resumes_as_written() {
        let mut old = resolve("hopper", None, &["strategy=cmaes".into()], &[]).unwrap();
        old.es.population_size = 64;
        let mut table = toml::Table::try_from(&old).unwrap();
        for key in ADDED_KEYS {
            let (section, leaf) = key.split_once('.').unwrap();
            table[section].as_table_mut().unwrap().remove(leaf);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
        let hopper = task::find("hopper").unwrap();
        let resumed = resolve_saved(hopper, &path, &[]).unwrap();
        let neutral = RunConfig::default();
        assert_eq!(resumed.es.top_pairs, 0);
        assert_eq!(resumed.evaluation.reward_shift, 0.0);
        assert_eq!(resumed.policy.init, neutral.policy.init);
        assert_eq!(resumed.strategy, StrategyKind::Cmaes);
        let fresh = resolve_with(hopper, Some(&path), &[], &[]).unwrap();
        assert_eq!(fresh.evaluation.reward_shift, 1.0);
    }

    /// Picking another strategy drops a task's strategy-specific defaults (Hopper's top
    /// pairs, Swimmer's restarts); setting them yourself with that strategy is refused.
    #[test]
    fn strategy_specific_task_defaults_give_way_to_another_strategy() {
        let c = resolve("hopper", None, &["strategy=cmaes".into()], &[]).unwrap();
        assert_eq!(c.es.top_pairs, 0);
        let c = resolve("swimmer", None, &["strategy=eggroll".into()], &[]).unwrap();
        assert_eq!(c.es.restarts, eggroll_core::cmaes::Restarts::None);
        assert_eq!(resolve("hopper", None, &[], &[]).unwrap().es.top_pairs, 4);
        let sets = [
            "strategy=eggroll".to_string(),
            "es.restarts=ipop".to_string(),
        ];
        let c = resolve("swimmer", None, &sets, &[]).unwrap();
        // Kept as set: building the strategy refuses it, naming the key.
        assert_eq!(c.es.restarts, eggroll_core::cmaes::Restarts::Ipop);
    }
}
