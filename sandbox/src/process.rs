//! Child processes the sandbox owns (the bot, a private PostgreSQL, a private Redis): their
//! output is kept for error messages, and they are stopped with a signal of our choosing.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// How many output lines of a child are kept for error messages.
const KEPT_LINES: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not wait for {name}: {source}")]
    Wait {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// The last lines a child printed (stdout and stderr interleaved).
#[derive(Clone, Default)]
pub struct OutputTail {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl OutputTail {
    fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == KEPT_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    pub fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// A running child process. Dropping it kills the process (SIGKILL) as a last resort; the
/// graceful path is [`ManagedProcess::stop`].
pub struct ManagedProcess {
    name: String,
    child: Child,
    pub output: OutputTail,
}

/// How a child's output is treated besides being kept in its [`OutputTail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Also logged through `tracing` at info level with the process name as prefix.
    Log,
    /// Only kept.
    Quiet,
}

impl ManagedProcess {
    /// Spawns `command` with piped output. `name` labels its log lines and errors.
    pub fn spawn(name: &str, mut command: Command, echo: Echo) -> Result<Self, ProcessError> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let program = command
            .as_std()
            .get_program()
            .to_string_lossy()
            .into_owned();
        let mut child = command
            .spawn()
            .map_err(|source| ProcessError::Spawn { program, source })?;
        let output = OutputTail::default();
        if let Some(stdout) = child.stdout.take() {
            forward(stdout, name.to_owned(), output.clone(), echo);
        }
        if let Some(stderr) = child.stderr.take() {
            forward(stderr, name.to_owned(), output.clone(), echo);
        }
        Ok(Self {
            name: name.to_owned(),
            child,
            output,
        })
    }

    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The exit status when the process has already exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends `signal` (e.g. `TERM`, `INT`), waits up to `grace`, then kills. Returns the exit code.
    pub async fn stop(
        mut self,
        signal: &str,
        grace: Duration,
    ) -> Result<Option<i32>, ProcessError> {
        if let Some(pid) = self.child.id() {
            send_signal(pid, signal);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status
                .map(|s| s.code())
                .map_err(|source| ProcessError::Wait {
                    name: self.name.clone(),
                    source,
                }),
            Err(_) => {
                tracing::warn!(process = %self.name, ?grace, "did not stop in time; killing it");
                let _ = self.child.kill().await;
                Ok(None)
            }
        }
    }
}

fn forward(
    stream: impl AsyncRead + Unpin + Send + 'static,
    name: String,
    output: OutputTail,
    echo: Echo,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if echo == Echo::Log {
                tracing::info!(target: "sandbox::child", "{name} | {line}");
            }
            output.push(line);
        }
    });
}

/// Sends a signal with the `kill` utility: std can only SIGKILL, and a graceful stop needs
/// SIGTERM/SIGINT.
pub fn send_signal(pid: u32, signal: &str) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether a process with this id runs and its command line mentions `needle`.
pub fn process_runs_with(pid: u32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            String::from_utf8_lossy(&raw)
                .replace('\0', " ")
                .contains(needle)
        })
        .unwrap_or(false)
}

/// Every running process whose command line mentions `needle` (e.g. a data directory).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| *pid != std::process::id() && process_runs_with(*pid, needle))
        .collect()
}

/// Finds an executable: first on `PATH`, then in `extra_dirs` in order.
pub fn find_executable(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .iter()
        .chain(extra_dirs)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
