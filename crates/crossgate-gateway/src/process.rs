//! The process metrics every official Prometheus client library exports under the same names
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...), so the dashboards and
//! alerts operators already have work on the gateway. Read from `/proc/self` at scrape time
//! (Linux; elsewhere they are left out), which systemd's `ProcSubset=pid` leaves visible. Nothing
//! here allocates: the files are read into stack buffers, the descriptors are counted with
//! rustix's buffer-backed directory reader, and the boot time comes from two clocks.

use std::fmt::Write as _;

use crate::metrics::family;

/// Appends the process families to a scrape. Any file that cannot be read leaves its
/// families out rather than failing the scrape.
pub(crate) fn render(out: &mut String) {
    #[cfg(target_os = "linux")]
    linux::render(out);
    #[cfg(not(target_os = "linux"))]
    let _ = out;
}

fn sample(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::Read;
    use std::mem::MaybeUninit;

    use super::sample;

    pub(super) fn render(out: &mut String) {
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let mut buf = [0u8; 1024];
        if let Some(stat) = read("/proc/self/stat", &mut buf).and_then(Stat::parse) {
            sample(
                out,
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                (stat.utime + stat.stime) as f64 / ticks,
            );
            sample(
                out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                stat.rss_pages * rustix::param::page_size() as u64,
            );
            sample(
                out,
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                stat.vsize,
            );
            sample(
                out,
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                boot_time() + stat.starttime as f64 / ticks,
            );
            sample(
                out,
                "process_threads",
                "gauge",
                "Number of OS threads in the process.",
                stat.threads,
            );
        }
        if let Some(open) = open_fds() {
            sample(
                out,
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                open,
            );
        }
        let mut buf = [0u8; 4096];
        if let Some(max) = read("/proc/self/limits", &mut buf).and_then(max_open_files) {
            sample(
                out,
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max,
            );
        }
    }

    /// A whole small file into `buf`; None when it cannot be read or does not fit.
    fn read<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b str> {
        let mut file = std::fs::File::open(path).ok()?;
        let mut len = 0;
        loop {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
            if len == buf.len() {
                return None;
            }
        }
        std::str::from_utf8(&buf[..len]).ok()
    }

    /// The fields of `/proc/self/stat` (proc(5)) that the families need.
    #[derive(Debug, PartialEq)]
    pub(super) struct Stat {
        pub(super) utime: u64,
        pub(super) stime: u64,
        pub(super) threads: u64,
        pub(super) starttime: u64,
        pub(super) vsize: u64,
        pub(super) rss_pages: u64,
    }

    impl Stat {
        /// The command name, field 2, is in parentheses and may hold spaces and parentheses
        /// itself: the fields are counted from after its last `)`.
        pub(super) fn parse(text: &str) -> Option<Stat> {
            let rest = &text[text.rfind(')')? + 1..];
            let mut stat = Stat {
                utime: 0,
                stime: 0,
                threads: 0,
                starttime: 0,
                vsize: 0,
                rss_pages: 0,
            };
            let mut found = 0;
            // The first field after the name is field 3 (state).
            for (number, value) in (3..).zip(rest.split_ascii_whitespace()) {
                let into = match number {
                    14 => &mut stat.utime,
                    15 => &mut stat.stime,
                    20 => &mut stat.threads,
                    22 => &mut stat.starttime,
                    23 => &mut stat.vsize,
                    24 => &mut stat.rss_pages,
                    25.. => break,
                    _ => continue,
                };
                *into = value.parse().ok()?;
                found += 1;
            }
            (found == 6).then_some(stat)
        }
    }

    /// The wall-clock time of boot, in seconds since the epoch: now, less the time since boot
    /// (which the stat file's start time counts from). Not /proc/stat's `btime`: systemd's
    /// `ProcSubset=pid` (deploy/crossgate.service) hides that file.
    fn boot_time() -> f64 {
        use rustix::time::{ClockId, Timespec, clock_gettime};
        let seconds = |t: Timespec| t.tv_sec as f64 + t.tv_nsec as f64 / 1e9;
        seconds(clock_gettime(ClockId::Realtime)) - seconds(clock_gettime(ClockId::Boottime))
    }

    /// The soft limit on open files, from the "Max open files" line of /proc/self/limits.
    pub(super) fn max_open_files(text: &str) -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with("Max open files"))?;
        let soft = line["Max open files".len()..]
            .split_ascii_whitespace()
            .next()?;
        // "unlimited" is not a number a gauge can carry: leave the family out.
        soft.parse().ok()
    }

    /// The entries of /proc/self/fd, less the one this count opens.
    fn open_fds() -> Option<u64> {
        use rustix::fs::{Mode, OFlags, RawDir};
        let dir = rustix::fs::open(
            "/proc/self/fd",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut entries = RawDir::new(&dir, &mut buf);
        let mut count = 0u64;
        while let Some(entry) = entries.next() {
            let entry = entry.ok()?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                count += 1;
            }
        }
        Some(count.saturating_sub(1))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn stat_fields_are_counted_after_the_last_parenthesis() {
            // A command name with a space and parentheses, as proc(5) warns.
            let line = "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 75 0 0 20 0 \
                        9 0 123456 987654321 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 \
                        0 0 17 1 0 0 0 0 0";
            assert_eq!(
                Stat::parse(line),
                Some(Stat {
                    utime: 250,
                    stime: 75,
                    threads: 9,
                    starttime: 123456,
                    vsize: 987654321,
                    rss_pages: 3000,
                })
            );
            assert_eq!(Stat::parse("4242 (a) S 1 2"), None, "truncated");
        }

        #[test]
        fn the_soft_open_files_limit() {
            let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                          Max processes             127498               127498               processes \n\
                          Max open files            1024                 524288               files     \n";
            assert_eq!(max_open_files(limits), Some(1024));
            assert_eq!(
                max_open_files(
                    "Max open files            unlimited            unlimited            files"
                ),
                None
            );
        }

        #[test]
        fn this_process_has_open_descriptors_and_a_limit() {
            let mut out = String::new();
            render(&mut out);
            for name in [
                "process_cpu_seconds_total ",
                "process_resident_memory_bytes ",
                "process_start_time_seconds ",
                "process_open_fds ",
                "process_max_fds ",
            ] {
                assert!(out.lines().any(|l| l.starts_with(name)), "{name}in\n{out}");
            }
            // Started within the last hour (this test binary), not at the epoch or in the future.
            let started: f64 = out
                .lines()
                .find_map(|l| l.strip_prefix("process_start_time_seconds "))
                .unwrap()
                .parse()
                .unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            assert!(
                started <= now + 1.0 && started > now - 3600.0,
                "{started} vs {now}"
            );
            // Other tests open and close descriptors meanwhile: only a lower bound is exact.
            let files: Vec<_> = (0..64)
                .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
                .collect();
            assert!(
                open_fds().unwrap() >= 64 + 3,
                "64 files, stdin, stdout, stderr"
            );
            drop(files);
        }
    }
}
