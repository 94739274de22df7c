//! Live control of a running training loop (the dashboard's buttons and sliders): commands
//! arrive over a channel and are applied between generations, never in the middle of one.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use crate::error::Result;
use crate::termination::Control;
use crate::trainer::Trainer;

/// A command to a running training loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Stop starting new generations until `Resume` or `Step`.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Run exactly one generation, then stay paused.
    Step,
    /// Set the base σ from the next generation on.
    SetSigma(f32),
    /// Set the base learning rate from the next generation on.
    SetLearningRate(f32),
    /// Write a checkpoint to this path now.
    SaveCheckpoint(PathBuf),
    /// End the run after the current generation.
    Stop,
}

/// Applies [`Command`]s to a [`Trainer`] between generations.
pub struct Controller {
    rx: Receiver<Command>,
    paused: bool,
    steps_allowed: u32,
    /// Messages from applied commands (e.g. "checkpoint saved"), for logs.
    pub log: Vec<String>,
}

impl Controller {
    /// A controller reading `rx`.
    pub fn new(rx: Receiver<Command>) -> Self {
        Self {
            rx,
            paused: false,
            steps_allowed: 0,
            log: Vec::new(),
        }
    }

    /// Whether the loop is paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    fn apply(&mut self, cmd: Command, trainer: &mut Trainer) -> Result<Option<Control>> {
        match cmd {
            Command::Pause => self.paused = true,
            Command::Resume => {
                self.paused = false;
                self.steps_allowed = 0;
            }
            Command::Step => {
                self.paused = true;
                self.steps_allowed += 1;
            }
            Command::SetSigma(s) => trainer.strategy_mut().set_sigma(s)?,
            Command::SetLearningRate(l) => trainer.strategy_mut().set_learning_rate(l)?,
            Command::SaveCheckpoint(p) => {
                trainer.save_checkpoint(&p)?;
                self.log
                    .push(format!("checkpoint saved to {}", p.display()));
            }
            Command::Stop => return Ok(Some(Control::Stop)),
        }
        Ok(None)
    }

    /// Call before every generation: applies pending commands and, while paused, waits for
    /// one (checking `interrupted` every 100 ms). A closed channel means "no controller".
    pub fn before_generation(
        &mut self,
        trainer: &mut Trainer,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<Control> {
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => {
                    if let Some(f) = self.apply(cmd, trainer)? {
                        return Ok(f);
                    }
                    continue;
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => {}
            }
            if !self.paused {
                return Ok(Control::Continue);
            }
            if self.steps_allowed > 0 {
                self.steps_allowed -= 1;
                return Ok(Control::Continue);
            }
            if interrupted() {
                return Ok(Control::Stop);
            }
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(cmd) => {
                    if let Some(f) = self.apply(cmd, trainer)? {
                        return Ok(f);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The controller went away while paused: resume rather than hang.
                Err(RecvTimeoutError::Disconnected) => self.paused = false,
            }
        }
    }
}
