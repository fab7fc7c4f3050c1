//! Time limits for work that may block in the kernel: a read of `/proc/PID/cmdline` while
//! the process holds its memory lock, a read from a stuck FUSE daemon, a dying disk.
//!
//! Owns running closures on detached threads and waiting for them only until a deadline.
//! A thread that does not come back is abandoned (Rust cannot cancel a blocked system
//! call) and its item is reported as timed out; the caller goes on. Nothing here may ever
//! join a thread that could be stuck.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What became of one closure run under a deadline.
#[derive(Debug)]
pub enum Bounded<T> {
    Done(T),
    /// Still running when its time was up; its thread was abandoned.
    TimedOut,
    /// Never started: the overall deadline came first (or no thread could be started).
    NotStarted,
    /// The closure panicked (a bug, recorded rather than propagated).
    Panicked(String),
}

impl<T> Bounded<T> {
    /// The value, or a one-line reason naming `what` was attempted.
    pub fn into_result(self, what: &str) -> Result<T, String> {
        match self {
            Bounded::Done(v) => Ok(v),
            Bounded::TimedOut => Err(format!("{what} did not finish in time; abandoned")),
            Bounded::NotStarted => Err(format!("{what} not started: time limit reached")),
            Bounded::Panicked(m) => Err(format!("{what} failed unexpectedly: {m}")),
        }
    }

    /// The action outcome this result is recorded as.
    pub fn outcome(&self) -> crate::action::Outcome {
        match self {
            Bounded::Done(_) => crate::action::Outcome::Ok,
            Bounded::TimedOut => crate::action::Outcome::Timeout,
            Bounded::NotStarted | Bounded::Panicked(_) => crate::action::Outcome::Error,
        }
    }
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking worker is caught and reported; its data is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic without a message".to_string()
    }
}

/// Run `f` on its own thread and wait at most `limit` for it.
pub fn run_with_limit<T, F>(thread_name: &str, limit: Duration, f: F) -> Bounded<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(thread_name.to_string())
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(f));
            let _ = tx.send(result.map_err(|p| panic_message(p.as_ref())));
        });
    if spawned.is_err() {
        return Bounded::NotStarted;
    }
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => Bounded::Done(v),
        Ok(Err(msg)) => Bounded::Panicked(msg),
        Err(RecvTimeoutError::Timeout) => Bounded::TimedOut,
        Err(RecvTimeoutError::Disconnected) => Bounded::Panicked("worker vanished".to_string()),
    }
}

struct Worker {
    /// The item being worked on and since when.
    current: Mutex<Option<(usize, Instant)>>,
    /// Set when the worker overran its item: it must not take new items.
    retired: AtomicBool,
}

type Report<T> = (usize, Result<T, String>);

/// Apply `f` to every item on up to `workers` threads. Each item gets `per_item`; an item
/// that overruns is reported `TimedOut`, its worker is abandoned and replaced. At
/// `deadline` everything still outstanding is given up. Results come back in item order.
pub fn map_bounded<I, T, F>(
    items: Vec<I>,
    workers: usize,
    per_item: Duration,
    deadline: Instant,
    f: F,
) -> Vec<Bounded<T>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> T + Send + Sync + 'static,
{
    let n = items.len();
    let mut results: Vec<Option<Bounded<T>>> = (0..n).map(|_| None).collect();
    if n == 0 {
        return Vec::new();
    }
    let queue = Arc::new(Mutex::new(
        items.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let f = Arc::new(f);
    let (tx, rx) = mpsc::channel::<Report<T>>();
    let spawn = |id: usize| -> Option<Arc<Worker>> {
        let me = Arc::new(Worker {
            current: Mutex::new(None),
            retired: AtomicBool::new(false),
        });
        let (me2, queue, stop, f, tx) = (
            Arc::clone(&me),
            Arc::clone(&queue),
            Arc::clone(&stop),
            Arc::clone(&f),
            tx.clone(),
        );
        std::thread::Builder::new()
            .name(format!("live-worker-{id}"))
            .spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) || me2.retired.load(Ordering::SeqCst) {
                        break;
                    }
                    let Some((idx, item)) = lock(&queue).pop_front() else {
                        break;
                    };
                    *lock(&me2.current) = Some((idx, Instant::now()));
                    let r = catch_unwind(AssertUnwindSafe(|| f(item)))
                        .map_err(|p| panic_message(p.as_ref()));
                    *lock(&me2.current) = None;
                    if tx.send((idx, r)).is_err() {
                        break;
                    }
                }
            })
            .ok()
            .map(|_| me)
    };
    let mut pool: Vec<Arc<Worker>> = (0..workers.clamp(1, n)).filter_map(spawn).collect();
    let mut next_id = pool.len();
    let mut pending = if pool.is_empty() { 0 } else { n };
    while pending > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let mut wake = deadline;
        let mut replacements = 0;
        for w in &pool {
            if w.retired.load(Ordering::SeqCst) {
                continue;
            }
            let current = *lock(&w.current);
            if let Some((idx, since)) = current {
                let expiry = since + per_item;
                if expiry <= now {
                    w.retired.store(true, Ordering::SeqCst);
                    if results[idx].is_none() {
                        results[idx] = Some(Bounded::TimedOut);
                        pending -= 1;
                    }
                    replacements += 1;
                } else {
                    wake = wake.min(expiry);
                }
            }
        }
        for _ in 0..replacements {
            if lock(&queue).is_empty() {
                break;
            }
            if let Some(w) = spawn(next_id) {
                pool.push(w);
            }
            next_id += 1;
        }
        if pending == 0 {
            break;
        }
        match rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok((idx, r)) => {
                if results[idx].is_none() {
                    results[idx] = Some(match r {
                        Ok(v) => Bounded::Done(v),
                        Err(m) => Bounded::Panicked(m),
                    });
                    pending -= 1;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Items queued but every worker retired (no replacement could be started): nobody
        // would ever take them.
        if pool.iter().all(|w| w.retired.load(Ordering::SeqCst)) && !lock(&queue).is_empty() {
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let in_flight: Vec<usize> = pool
        .iter()
        .filter_map(|w| lock(&w.current).map(|(idx, _)| idx))
        .collect();
    results
        .into_iter()
        .enumerate()
        .map(|(idx, r)| {
            r.unwrap_or(if in_flight.contains(&idx) {
                Bounded::TimedOut
            } else {
                Bounded::NotStarted
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order() {
        let out = map_bounded(
            (0..50u64).collect(),
            3,
            Duration::from_secs(5),
            Instant::now() + Duration::from_secs(10),
            |i| i * 2,
        );
        let values: Vec<u64> = out
            .into_iter()
            .map(|r| match r {
                Bounded::Done(v) => v,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(values, (0..50u64).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_stuck_item_times_out_and_the_others_still_finish() {
        let started = Instant::now();
        let out = map_bounded(
            vec![0u32, 1, 2, 3, 4, 5],
            2,
            Duration::from_millis(300),
            Instant::now() + Duration::from_secs(10),
            |i| {
                if i == 1 {
                    std::thread::sleep(Duration::from_secs(30));
                }
                i
            },
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(out[1], Bounded::TimedOut), "{:?}", out[1]);
        for i in [0usize, 2, 3, 4, 5] {
            assert!(
                matches!(out[i], Bounded::Done(v) if v as usize == i),
                "{:?}",
                out[i]
            );
        }
    }

    #[test]
    fn the_overall_deadline_gives_up_on_everything_outstanding() {
        let started = Instant::now();
        let out = map_bounded(
            (0..10u32).collect(),
            1,
            Duration::from_secs(60),
            Instant::now() + Duration::from_millis(300),
            |_| std::thread::sleep(Duration::from_secs(30)),
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(out[0], Bounded::TimedOut));
        assert!(out[1..].iter().all(|r| matches!(r, Bounded::NotStarted)));
    }

    #[test]
    fn a_panicking_item_is_reported_not_propagated() {
        let out = map_bounded(
            vec![1u32, 2],
            1,
            Duration::from_secs(5),
            Instant::now() + Duration::from_secs(10),
            |i| {
                if i == 1 {
                    panic!("bad item");
                }
                i
            },
        );
        assert!(matches!(&out[0], Bounded::Panicked(m) if m == "bad item"));
        assert!(matches!(out[1], Bounded::Done(2)));
    }

    #[test]
    fn run_with_limit_abandons_a_stuck_closure() {
        let started = Instant::now();
        let r = run_with_limit("t", Duration::from_millis(200), || {
            std::thread::sleep(Duration::from_secs(30))
        });
        assert!(matches!(r, Bounded::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
