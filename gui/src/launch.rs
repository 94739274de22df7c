//! `eggroll dashboard`'s two modes, given how to start a run: replay a metrics file or a
//! compare directory, or start several runs side by side and watch them live.

use std::path::Path;
use std::sync::mpsc::{Sender, channel};

use crate::{Dashboard, RunFeed, XAxis, compare_feeds, replay_feed, run_native};

/// Open the dashboard on a finished run's `metrics.jsonl` or an `eggroll compare` directory.
pub fn replay(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        let feeds = compare_feeds(path).map_err(|e| {
            format!(
                "--replay {}: not an `eggroll compare` directory ({e})",
                path.display()
            )
        })?;
        let mut dash = Dashboard::new(feeds);
        dash.x_axis = XAxis::WallTime;
        return run_native(dash).map_err(|e| format!("dashboard: {e}"));
    }
    let feed = replay_feed(path).map_err(|e| format!("--replay {}: {e}", path.display()))?;
    run_native(Dashboard::new(vec![feed])).map_err(|e| format!("dashboard: {e}"))
}

/// Start one run per `(label, config override)` on its own thread with `start(label, set,
/// feed)` (which sends the run's feed once it is set up and returns its error, if any) and
/// show them together. A failed run is reported on stderr at once and in the window; the
/// result says how many failed.
pub fn side_by_side<F>(variants: &[(String, String)], start: F) -> Result<(), String>
where
    F: Fn(&str, &str, Sender<RunFeed>) -> Result<(), String> + Send + Sync + Clone + 'static,
{
    let (tx, rx) = channel();
    let (err_tx, err_rx) = channel::<(String, String)>();
    let mut workers = Vec::new();
    for (label, set) in variants {
        let (tx, err_tx, start) = (tx.clone(), err_tx.clone(), start.clone());
        let (label, set) = (label.clone(), set.clone());
        workers.push(std::thread::spawn(move || {
            let result = start(&label, &set, tx);
            if let Err(e) = &result {
                eprintln!("error: compared run `{label}` failed: {e}");
                let _ = err_tx.send((label, e.clone()));
            }
            result.is_ok()
        }));
    }
    drop(tx);
    drop(err_tx);
    let feeds: Vec<_> = rx.iter().take(variants.len()).collect();
    if !feeds.is_empty()
        && let Err(e) = run_native(Dashboard::new(feeds).with_errors(err_rx))
    {
        eprintln!("dashboard: {e} (the runs continue without a window)");
    }
    let failed = workers
        .into_iter()
        .map(|w| w.join().unwrap_or(false))
        .filter(|ok| !ok)
        .count();
    if failed > 0 {
        return Err(format!(
            "{failed} of {} compared runs failed (see above)",
            variants.len()
        ));
    }
    Ok(())
}

/// Connect a run about to start to a dashboard: its statistics, policy snapshots and noise
/// description go out (the feed is sent on `tx`, labelled `label`), the dashboard's commands
/// come in.
pub fn attach(session: &mut eggroll_run::Session, label: String, tx: &Sender<RunFeed>) {
    let config = session.config().clone();
    let trainer = session.trainer();
    let g = trainer.generation();
    let names = trainer
        .params()
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    let info = format!(
        "seed {} N={} r={} {}",
        config.es.seed,
        config.es.population_size,
        config.es.rank,
        trainer.strategy().name()
    );
    let (ch, mut feed) = crate::live_channels(
        label,
        config.task.clone(),
        session.policy().cloned(),
        names,
        info,
        trainer.strategy().sigma(g),
        trainer.strategy().learning_rate(g),
    );
    if config.strategy == eggroll_run::StrategyKind::Eggroll {
        feed.noise = Some(crate::NoiseInfo {
            seed: config.es.seed,
            rank: config.es.rank,
            noise_reuse: config.es.noise_reuse,
        });
    }
    feed.shaping = (config.es.shaping, config.es.group_size);
    feed.mnist = session.images().cloned();
    feed.net = session
        .net()
        .and_then(|n| n.build().ok())
        .map(std::sync::Arc::new);
    ch.connect(session);
    let _ = tx.send(feed);
}
