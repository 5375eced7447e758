//! CPU time processes have used, as the kernel counts it, so a throughput row can say where
//! each request's CPU went: on two cores shared by denwa, Redis and the load generator,
//! requests per second can be no more than the cores' seconds divided by the CPU one request
//! costs all of them together.
//!
//! Read from each thread's `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on a CPU), so that
//! a burst of a few milliseconds can be split too; `/proc/<pid>/stat` counts in 10 ms ticks and
//! is the fallback where schedstat is missing. A thread that ends takes its time with it in
//! schedstat: the processes measured keep their threads (tokio's workers, redis-server's).

/// `/proc/<pid>/stat` counts in USER_HZ ticks, which Linux fixes at 100 for user space
/// whatever the kernel's own tick rate (`man 5 proc`).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds used so far by `pid`'s threads, `None` if unreadable.
pub fn seconds(pid: u32) -> Option<f64> {
    threads_seconds(pid).or_else(|| ticks_seconds(pid))
}

fn threads_seconds(pid: u32) -> Option<f64> {
    let mut total = 0.0;
    for thread in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let schedstat = std::fs::read_to_string(thread.ok()?.path().join("schedstat")).ok()?;
        let on_cpu_ns: f64 = schedstat.split_whitespace().next()?.parse().ok()?;
        total += on_cpu_ns / 1e9;
    }
    Some(total)
}

/// All threads, live or ended, in 10 ms ticks.
fn ticks_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime), counted from field 3 (state) at index 0.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// CPU seconds used so far by `pid` and its children (gunicorn's master and its workers).
pub fn tree_seconds(pid: u32) -> Option<f64> {
    let own = seconds(pid)?;
    let children: f64 = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| parent(child) == Some(pid))
        .filter_map(seconds)
        .sum();
    Some(own + children)
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Reads one process's CPU seconds so far.
type Reader = Box<dyn Fn() -> Option<f64>>;

/// The processes a throughput run is split between, each read the same way before and after.
#[derive(Default)]
pub struct Parts {
    parts: Vec<(&'static str, Reader)>,
}

/// CPU per request of each part over one run, in microseconds.
pub struct Split {
    pub parts: Vec<(&'static str, Option<f64>)>,
}

impl Parts {
    pub fn with(mut self, name: &'static str, read: impl Fn() -> Option<f64> + 'static) -> Parts {
        self.parts.push((name, Box::new(read)));
        self
    }

    /// Reads every part now; [`Reading::split`] after the run gives the CPU per request.
    pub fn read(&self) -> Reading<'_> {
        Reading {
            parts: self,
            before: self.parts.iter().map(|(_, read)| read()).collect(),
        }
    }
}

pub struct Reading<'a> {
    parts: &'a Parts,
    before: Vec<Option<f64>>,
}

impl Reading<'_> {
    pub fn split(&self, requests: u64) -> Split {
        let parts = self
            .parts
            .parts
            .iter()
            .zip(&self.before)
            .map(|((name, read), before)| {
                let used = read().zip(*before).map(|(after, before)| after - before);
                (*name, used.map(|s| s * 1e6 / requests.max(1) as f64))
            })
            .collect();
        Split { parts }
    }
}

impl Split {
    /// The CPU of every part together, if every part could be read.
    pub fn total_us(&self) -> Option<f64> {
        self.parts.iter().map(|(_, us)| *us).sum()
    }

    /// The most requests per second `cores` could serve at this CPU per request.
    pub fn ceiling_per_second(&self, cores: usize) -> Option<f64> {
        self.total_us().map(|us| cores as f64 * 1e6 / us.max(1e-9))
    }

    /// `denwa 41 µs + redis 18 µs + load generator 20 µs = 79 µs`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|(name, us)| match us {
                Some(us) => format!("{name} {us:.0} µs"),
                None => format!("{name} unreadable"),
            })
            .collect();
        match self.total_us() {
            Some(total) => format!("{} = {total:.0} µs", parts.join(" + ")),
            None => parts.join(" + "),
        }
    }
}
