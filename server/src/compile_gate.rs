//! The recompiler's gate (issue 18, item 4): the tickets handlers take
//! when they record a change, how far compiles got ([`Progress`]), and the
//! lock that keeps this process to one compile at a time. It holds no
//! compile logic ([`crate::recompiler`] runs the task), so the shared
//! state at the bottom ([`crate::state::AppState`]) can hold it without
//! importing the recompiler.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// Who compiles, one at a time per process (the deployment-wide part is
/// [`crate::store::Store::compile_lease`]), the requests waiting for a
/// compile, and whether this process publishes.
#[derive(Debug)]
pub struct CompileGate {
    /// Recompile requests issued so far (tickets).
    pub(crate) issued: AtomicU64,
    /// Held while compiling; the newest ticket a successful compile covers
    /// (one whose lease was taken after the ticket was issued read its
    /// change).
    pub(crate) covered: tokio::sync::Mutex<u64>,
    /// The newest ticket a finished compile (successful or not) covers.
    pub(crate) settled: watch::Sender<u64>,
    /// Wakes the task: a request is waiting.
    pub(crate) wake: Notify,
    /// Why compiles were asked for since the last one began (for the log).
    pub(crate) reasons: Mutex<BTreeSet<&'static str>>,
    /// The task, once the first request started it.
    pub(crate) task: Mutex<Option<JoinHandle<()>>>,
    /// Tells the task to stop after the compile it is in.
    pub(crate) stop: watch::Sender<bool>,
    /// The last compile the task finished.
    pub(crate) last: Mutex<Option<LastCompile>>,
    /// True in a serving server, which publishes what it stores; false in
    /// `ledcast-server apply` and other one-shot commands, whose rotations
    /// a serving replica claims and publishes.
    pub publishes: AtomicBool,
}

impl Default for CompileGate {
    fn default() -> Self {
        CompileGate {
            issued: AtomicU64::new(0),
            covered: tokio::sync::Mutex::new(0),
            settled: watch::Sender::new(0),
            wake: Notify::new(),
            reasons: Mutex::default(),
            task: Mutex::default(),
            stop: watch::Sender::new(false),
            last: Mutex::default(),
            publishes: AtomicBool::new(false),
        }
    }
}

/// The recompiler's last finished compile.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct LastCompile {
    /// The newest request it covered.
    pub ticket: u64,
    /// When it finished (ms since the epoch).
    pub finished_at: i64,
    /// How long it took, from taking the lease to the last stored chunk.
    pub took_ms: u64,
    /// Screens compiled.
    pub screens: usize,
    /// Rotations stored (screens whose loop changed).
    pub stored: usize,
    /// Why it failed (it is tried again in a few seconds).
    pub error: Option<String>,
}

/// Where the recompiler is (`GET /api/v1/recompile`).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Progress {
    /// Requests made so far (tickets 1..=requested).
    pub requested: u64,
    /// Every ticket up to this one has been compiled (or tried).
    pub done: u64,
    /// True while a compile runs.
    pub running: bool,
    /// The last compile the task finished.
    pub last: Option<LastCompile>,
}

impl CompileGate {
    /// Waits until no compile of this process runs, and keeps others out
    /// while the guard lives.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, u64> {
        self.covered.lock().await
    }

    /// Waits until a compile that began after `ticket` was issued finished.
    pub async fn settled(&self, ticket: u64) {
        let mut settled = self.settled.subscribe();
        let _ = settled.wait_for(|done| *done >= ticket).await;
    }

    /// Waits until every request made so far has been compiled (or tried).
    pub async fn settle_all(&self) {
        self.settled(self.issued.load(Ordering::SeqCst)).await;
    }

    /// Where the recompiler is.
    pub fn progress(&self) -> Progress {
        Progress {
            requested: self.issued.load(Ordering::SeqCst),
            done: *self.settled.borrow(),
            running: self.covered.try_lock().is_err(),
            last: self.last.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// Stops the task after the compile it is in, and one more if a
    /// request is still waiting (shutdown, before the store closes), and
    /// waits for it.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// What a handler says about the compile it asked for.
pub fn pending(ticket: u64) -> Pending {
    Pending {
        ticket,
        progress: "/api/v1/recompile".to_owned(),
    }
}

/// A change's place in the recompiler's queue, as an answer tells it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Pending {
    /// The change's ticket: done once `GET /api/v1/recompile` says `done` ≥ it.
    pub ticket: u64,
    /// Where to ask.
    pub progress: String,
}
