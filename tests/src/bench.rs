//! Helpers the benchmarks in `benches/` share: tunables from the environment, CPU and memory of
//! processes from `/proc`, and percentiles.

use std::time::Duration;

/// A whole-number tunable from the environment, or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The bot's environment with `BENCH_BOT_<VAR>=value` from this process's environment applied
/// as `VAR=value`, for tuning runs.
pub fn with_bot_overrides(mut env: crate::harness::BotEnv) -> crate::harness::BotEnv {
    for (name, value) in std::env::vars() {
        if let Some(var) = name.strip_prefix("BENCH_BOT_") {
            env = env.set(var, value);
        }
    }
    env
}

/// utime + stime of a process in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS:`, `VmHWM:`).
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn postgres_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .collect()
}

/// CPU seconds of every PostgreSQL process on the machine (server and backends).
pub fn postgres_cpu() -> f64 {
    postgres_pids().into_iter().map(cpu_seconds).sum()
}

/// The `p` quantile (0..=1) of sorted durations, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// "p50 1.23 ms, p99 4.56 ms, max 7.89 ms" of unsorted durations.
pub fn summary(durations: &mut [Duration]) -> String {
    durations.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(durations, 0.50)),
        ms(percentile(durations, 0.99)),
        ms(durations.last().copied().unwrap_or_default())
    )
}
