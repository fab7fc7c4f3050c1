//! Which jobs this process runs: `--shard K/N` (0 ≤ K < N), or K and N taken from the
//! engine that started it — a Slurm job array (`SLURM_ARRAY_TASK_ID` minus
//! `SLURM_ARRAY_TASK_MIN`; N from `SLURM_ARRAY_TASK_COUNT`, else MAX − MIN + 1) or a
//! Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`; N from `FIELDKIT_SHARD_COUNT`, which the
//! recipe in packaging/k8s sets to the Job's `completions`).
//!
//! A job belongs to shard `h mod N`, where h is the first 8 bytes (big-endian) of the
//! SHA-256 of its exhibit id: the same exhibit always lands in the same shard however the
//! job file is ordered, and every job lands in exactly one shard. Owns nothing else; must
//! never schedule anything itself (the engine does).

use crate::hashing::sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    pub const ALL: Shard = Shard { k: 0, n: 1 };

    pub fn parse(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s:?}: expected K/N, e.g. 0/4"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s:?}: K is not a number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s:?}: N is not a number"))?;
        Shard::new(k, n).map_err(|e| format!("--shard {s:?}: {e}"))
    }

    pub fn new(k: u64, n: u64) -> Result<Shard, String> {
        if n == 0 {
            return Err("N must be at least 1".into());
        }
        if k >= n {
            return Err(format!("K must be below N (0 ≤ K < {n})"));
        }
        Ok(Shard { k, n })
    }

    /// Does this shard own the exhibit?
    pub fn owns(&self, exhibit: &str) -> bool {
        shard_of(exhibit, self.n) == self.k
    }

    /// The log file of this shard under OUT: `batch.jsonl` alone, else `batch.KofN.jsonl`.
    pub fn log_name(&self) -> String {
        if self.n == 1 {
            "batch.jsonl".into()
        } else {
            format!("batch.{}of{}.jsonl", self.k, self.n)
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The shard (0-based) of an exhibit among `n`.
pub fn shard_of(exhibit: &str, n: u64) -> u64 {
    let d = sha256(exhibit.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b) % n.max(1)
}

/// Where K/N came from, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Slurm,
    Kubernetes,
    None,
}

/// K/N from the environment (`get` reads a variable), or None when neither engine set it.
pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<(Shard, Origin)>, String> {
    let num = |name: &str| -> Result<Option<u64>, String> {
        match get(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{name}={v:?} is not a number")),
        }
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let n = match num("SLURM_ARRAY_TASK_COUNT")? {
            Some(c) => c,
            None => match num("SLURM_ARRAY_TASK_MAX")? {
                Some(max) if max >= min => max - min + 1,
                _ => {
                    return Err(
                        "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor \
                         SLURM_ARRAY_TASK_MAX: cannot tell how many shards there are"
                            .into(),
                    );
                }
            },
        };
        let k = id.checked_sub(min).ok_or_else(|| {
            format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
        })?;
        return Shard::new(k, n)
            .map(|s| Some((s, Origin::Slurm)))
            .map_err(|e| format!("Slurm array task {id} (min {min}, count {n}): {e}"));
    }
    if let Some(k) = num("JOB_COMPLETION_INDEX")? {
        let n = num("FIELDKIT_SHARD_COUNT")?.ok_or_else(|| {
            "JOB_COMPLETION_INDEX is set but FIELDKIT_SHARD_COUNT is not: set it to the \
             Job's spec.completions (packaging/k8s/fieldkit-batch-job.yaml does)"
                .to_string()
        })?;
        return Shard::new(k, n)
            .map(|s| Some((s, Origin::Kubernetes)))
            .map_err(|e| format!("JOB_COMPLETION_INDEX={k}, FIELDKIT_SHARD_COUNT={n}: {e}"));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        move |k: &str| v.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone())
    }

    #[test]
    fn union_is_every_job_once() {
        let ids: Vec<String> = (0..200).map(|i| format!("E{i:03}")).collect();
        for n in 1..7 {
            for id in &ids {
                let owners = (0..n).filter(|k| Shard { k: *k, n }.owns(id)).count();
                assert_eq!(owners, 1, "{id} in {owners} shards of {n}");
            }
        }
    }

    #[test]
    fn env_sources() {
        let s = from_env(&env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ]))
        .unwrap();
        assert_eq!(s, Some((Shard { k: 2, n: 4 }, Origin::Slurm)));
        let s = from_env(&env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]))
        .unwrap();
        assert_eq!(s, Some((Shard { k: 0, n: 4 }, Origin::Slurm)));
        let s = from_env(&env(&[
            ("JOB_COMPLETION_INDEX", "1"),
            ("FIELDKIT_SHARD_COUNT", "3"),
        ]))
        .unwrap();
        assert_eq!(s, Some((Shard { k: 1, n: 3 }, Origin::Kubernetes)));
        assert!(from_env(&env(&[("JOB_COMPLETION_INDEX", "1")])).is_err());
        assert!(
            from_env(&env(&[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "4")
            ]))
            .is_err()
        );
        assert_eq!(from_env(&env(&[])).unwrap(), None);
        assert!(Shard::parse("4/4").is_err());
        assert_eq!(Shard::parse("1/4").unwrap(), Shard { k: 1, n: 4 });
    }
}
