//! Timing and counting one benchmarked routine.
//!
//! Time is the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`): on a shared machine, time spent
//! descheduled while another process runs is not charged to the request. Each criterion sample
//! runs the routine many times; a sample's time per request is its CPU time over its iteration
//! count, and the table reports the median over the samples.

use std::time::Duration;

use crate::alloc::{self, Allocations};

/// The calling thread's CPU time.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A benchmarked routine: `run(n)` serves `n` requests (each built, served and dropped).
pub trait Routine {
    fn run(&mut self, iterations: u64);
}

/// A [`Routine`] from a closure serving one request. The loop is monomorphised around the
/// closure, so the only indirect call is per sample, not per request.
pub struct Each<F>(pub F);

impl<F: FnMut()> Routine for Each<F> {
    #[inline(never)]
    fn run(&mut self, iterations: u64) {
        for _ in 0..iterations {
            (self.0)();
        }
    }
}

/// Runs `routine` for `iterations` and returns the thread CPU time it took.
pub fn time(routine: &mut dyn Routine, iterations: u64) -> Duration {
    let start = thread_cpu_time();
    routine.run(iterations);
    thread_cpu_time() - start
}

/// Allocations per request: the routine is run `warm` times first (pools and lazily grown
/// buffers settle), then counted over `counted` runs.
pub fn allocations(routine: &mut dyn Routine, warm: u64, counted: u64) -> (f64, f64) {
    routine.run(warm);
    let (seen, ()) = alloc::count(|| routine.run(counted));
    let Allocations { count, bytes } = seen;
    (count as f64 / counted as f64, bytes as f64 / counted as f64)
}

/// The median and the interquartile range of some values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub iqr: f64,
    pub samples: usize,
}

impl Summary {
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let x = p * (v.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (x - lo as f64)
        };
        Some(Summary {
            median: q(0.5),
            iqr: q(0.75) - q(0.25),
            samples: v.len(),
        })
    }

    /// Half the interquartile range, relative to the median.
    pub fn spread(&self) -> f64 {
        if self.median > 0.0 {
            self.iqr / 2.0 / self.median
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(s.median, 3.0);
        assert_eq!(s.iqr, 2.0);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[2.0, 4.0]).unwrap().median, 3.0);
    }

    #[test]
    fn cpu_time_advances() {
        let start = thread_cpu_time();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(thread_cpu_time() > start, "{x}");
    }
}
