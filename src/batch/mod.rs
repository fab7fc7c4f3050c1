//! Lab batch mode (issue 13; docs/lab.md): many exhibits described once in a job file,
//! run with bounded parallelism on one machine or sharded across a cluster by an engine
//! the lab already runs (Slurm job arrays, Kubernetes Indexed Jobs), resumable, one
//! bundle per exhibit under `OUT/<exhibit>/` and one JSON line per job in the shard's log.
//!
//! Owns: the job file (`jobs`), shard selection (`shard`), per-job locks (`lock`), source
//! fingerprints (`fingerprint`), the runner (`run`) and the merged view (`status`).
//! Must never schedule across machines itself, never delete anything under OUT, and
//! never let one job's failure stop another.

/// A line on stderr that never panics (as in `commands`).
macro_rules! say {
    ($($t:tt)*) => {
        $crate::commands::note(format_args!($($t)*))
    };
}

pub mod fingerprint;
pub mod jobs;
pub mod lock;
pub mod run;
pub mod shard;
pub mod status;
