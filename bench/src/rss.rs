//! A process's resident memory, as the kernel counts it (`VmRSS` in `/proc/<pid>/status`).

/// Resident set size of `pid` in MiB, `None` if unreadable (no such process, not Linux).
pub fn resident_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
