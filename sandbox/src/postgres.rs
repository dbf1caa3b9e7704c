//! PostgreSQL for the sandbox: a fresh database of its own on a server that is already running,
//! or a private server started from the installed binaries in a directory the sandbox owns.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Connection;
use tokio::process::Command;

use crate::process::{Echo, ManagedProcess, is_executable};

/// The server the sandbox tries when `DATABASE_URL` is not set.
pub const DEFAULT_LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Where Debian and Ubuntu install the server binaries (one directory per major version).
const DEBIAN_SERVER_DIRS: &str = "/usr/lib/postgresql";

pub const INSTALL_HINT: &str = "Install the PostgreSQL server, e.g. `sudo apt-get install postgresql` \
     (Debian/Ubuntu) or `brew install postgresql` (macOS), or point the sandbox at a running server \
     with DATABASE_URL=postgres://user:password@host:5432/postgres";

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(
        "no PostgreSQL server binaries found (looked for `postgres` and `initdb` on PATH and in \
         {DEBIAN_SERVER_DIRS}/*/bin). {INSTALL_HINT}"
    )]
    NoServerBinaries,
    #[error("{action} failed: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("initdb failed ({status}):\n{output}")]
    Initdb { status: String, output: String },
    #[error(
        "{dir} holds a PostgreSQL {found} cluster but the server binaries are version {binaries}; \
         remove the directory or pass another --data-dir"
    )]
    VersionMismatch {
        dir: String,
        found: String,
        binaries: String,
    },
    #[error(
        "{dir} holds a PostgreSQL cluster without the sandbox's password file; remove the \
         directory or pass another --data-dir"
    )]
    PasswordMissing { dir: String },
    #[error(
        "{dir} is out of reach for user nobody, which the private PostgreSQL runs as (initdb \
         refuses root); pass a --data-dir that every user may enter, e.g. under /var/tmp"
    )]
    Unreachable { dir: String },
    #[error("the private PostgreSQL did not start: {reason}\n{output}")]
    NotStarted { reason: String, output: String },
    #[error("process: {0}")]
    Process(#[from] crate::process::ProcessError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("could not find a free database name toogoodtogo_sandbox_<n>")]
    NoFreeName,
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> PostgresError {
    let action = action.into();
    move |source| PostgresError::Io { action, source }
}

/// The user a private server runs as. initdb and postgres refuse to run as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// `nobody` when the sandbox runs as root: it exists on every Linux system and owns nothing,
    /// so no system user has to be created. `None` (run as ourselves) otherwise.
    pub fn for_current_user() -> Option<Self> {
        let euid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok()?;
        (euid == 0).then(nobody)
    }

    /// Whether this user can reach `path`: every existing ancestor must be searchable by it.
    pub fn can_reach(&self, path: &Path) -> bool {
        path.ancestors()
            .filter_map(|dir| std::fs::metadata(dir).ok())
            .all(|m| {
                let mode = m.permissions().mode();
                if m.uid() == self.uid {
                    mode & 0o100 != 0
                } else if m.gid() == self.gid {
                    mode & 0o010 != 0
                } else {
                    mode & 0o001 != 0
                }
            })
    }

    fn apply(&self, command: &mut Command) {
        // std drops the supplementary groups too when it switches the uid as root.
        command.uid(self.uid).gid(self.gid);
    }

    fn chown(&self, path: &Path) -> Result<(), PostgresError> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .map_err(io(format!("chown {}", path.display())))
    }
}

fn nobody() -> RunAs {
    const NOBODY: RunAs = RunAs {
        uid: 65_534,
        gid: 65_534,
    };
    let Ok(passwd) = std::fs::read_to_string("/etc/passwd") else {
        return NOBODY;
    };
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"nobody"))
        .and_then(|fields| {
            Some(RunAs {
                uid: fields.get(2)?.parse().ok()?,
                gid: fields.get(3)?.parse().ok()?,
            })
        })
        .unwrap_or(NOBODY)
}

/// The installed server binaries, taken from one directory so that they match.
#[derive(Debug, Clone)]
pub struct PostgresBinaries {
    pub postgres: PathBuf,
    pub initdb: PathBuf,
}

impl PostgresBinaries {
    /// Searches PATH, then the Debian directories, newest major version first.
    pub fn find() -> Result<Self, PostgresError> {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.extend(debian_server_dirs());
        Self::find_in(&dirs)
    }

    /// Searches exactly `dirs`.
    pub fn find_in(dirs: &[PathBuf]) -> Result<Self, PostgresError> {
        for dir in dirs {
            let postgres = dir.join("postgres");
            if !is_executable(&postgres) {
                continue;
            }
            // PATH often holds symlinks (e.g. /usr/local/bin/postgres); initdb sits next to the
            // real binary.
            let real_dir = std::fs::canonicalize(&postgres)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf));
            let initdb = real_dir
                .iter()
                .chain(std::iter::once(dir))
                .map(|d| d.join("initdb"))
                .find(|p| is_executable(p));
            if let Some(initdb) = initdb {
                return Ok(Self { postgres, initdb });
            }
        }
        Err(PostgresError::NoServerBinaries)
    }

    /// The major version (`15`) as `postgres --version` reports it.
    pub async fn major_version(&self) -> Option<String> {
        let output = Command::new(&self.postgres)
            .arg("--version")
            .output()
            .await
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text.split_whitespace().last()?;
        version.split('.').next().map(str::to_owned)
    }
}

fn debian_server_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(DEBIAN_SERVER_DIRS) else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// A PostgreSQL server the sandbox started in its own directory. Reused on the next start.
pub struct PrivatePostgres {
    process: ManagedProcess,
    pub port: u16,
    password: String,
    pub dir: PathBuf,
    /// Whether an existing cluster was reused (no initdb this time).
    pub reused: bool,
}

impl PrivatePostgres {
    /// Starts (and on first use initialises) a cluster in `dir/data`. When run as root the
    /// server runs as `nobody`, which must be able to reach `dir`.
    pub async fn start(
        binaries: &PostgresBinaries,
        dir: &Path,
        run_as: Option<RunAs>,
    ) -> Result<Self, PostgresError> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let dir = std::fs::canonicalize(dir).map_err(io(format!("resolving {}", dir.display())))?;
        let data = dir.join("data");
        let password_file = dir.join("password");
        if let Some(user) = run_as {
            if !user.can_reach(&dir) {
                return Err(PostgresError::Unreachable {
                    dir: dir.display().to_string(),
                });
            }
            user.chown(&dir)?;
        }
        stop_leftover_server(&data).await;

        let reused = data.join("PG_VERSION").exists();
        let password = if reused {
            std::fs::read_to_string(&password_file)
                .map(|p| p.trim().to_owned())
                .map_err(|_| PostgresError::PasswordMissing {
                    dir: dir.display().to_string(),
                })?
        } else {
            let password = format!("{:032x}", rand::random::<u128>());
            write_private_file(&password_file, &password, run_as)?;
            initdb(binaries, &data, &password_file, run_as).await?;
            password
        };
        check_version(binaries, &data).await?;

        let port = free_port().map_err(io("finding a free port"))?;
        let mut command = Command::new(&binaries.postgres);
        command
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            // No Unix socket: the default socket directory belongs to the system's server.
            .args(["-c", "unix_socket_directories="])
            // A sandbox trades crash safety of the last transactions for speed.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .current_dir(&dir);
        if let Some(user) = run_as {
            user.apply(&mut command);
        }
        let process = ManagedProcess::spawn("postgres", command, Echo::Quiet)?;
        let mut server = Self {
            process,
            port,
            password,
            dir,
            reused,
        };
        server.wait_until_ready(Duration::from_secs(30)).await?;
        Ok(server)
    }

    /// The `postgres` superuser's URL for database `database`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }

    async fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), PostgresError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let url = self.url("postgres");
        loop {
            if let Some(status) = self.process.exited() {
                return Err(PostgresError::NotStarted {
                    reason: format!("the server exited ({status})"),
                    output: self.process.output.text(),
                });
            }
            if answers(&url).await {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(PostgresError::NotStarted {
                    reason: format!("no answer within {timeout:?}"),
                    output: self.process.output.text(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fast shutdown (SIGINT): disconnects clients, writes a checkpoint, exits.
    pub async fn stop(self) -> Result<(), PostgresError> {
        self.process.stop("INT", Duration::from_secs(20)).await?;
        Ok(())
    }
}

fn write_private_file(
    path: &Path,
    content: &str,
    owner: Option<RunAs>,
) -> Result<(), PostgresError> {
    std::fs::write(path, content).map_err(io(format!("writing {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io(format!("chmod {}", path.display())))?;
    if let Some(user) = owner {
        user.chown(path)?;
    }
    Ok(())
}

async fn initdb(
    binaries: &PostgresBinaries,
    data: &Path,
    password_file: &Path,
    run_as: Option<RunAs>,
) -> Result<(), PostgresError> {
    let mut command = Command::new(&binaries.initdb);
    command
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .arg(format!("--pwfile={}", password_file.display()))
        .current_dir(data.parent().unwrap_or(data))
        .kill_on_drop(true);
    if let Some(user) = run_as {
        user.apply(&mut command);
    }
    let output = command
        .output()
        .await
        .map_err(io(format!("running {}", binaries.initdb.display())))?;
    if output.status.success() {
        return Ok(());
    }
    Err(PostgresError::Initdb {
        status: output.status.to_string(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    })
}

async fn check_version(binaries: &PostgresBinaries, data: &Path) -> Result<(), PostgresError> {
    let found = std::fs::read_to_string(data.join("PG_VERSION"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    match binaries.major_version().await {
        Some(binaries_version) if binaries_version != found => {
            Err(PostgresError::VersionMismatch {
                dir: data.display().to_string(),
                found,
                binaries: binaries_version,
            })
        }
        _ => Ok(()),
    }
}

/// A server left running by a sandbox that was killed (no chance to clean up) still holds the
/// data directory; it is ours, so it is stopped before a new one starts.
async fn stop_leftover_server(data: &Path) {
    let Ok(pid_file) = std::fs::read_to_string(data.join("postmaster.pid")) else {
        return;
    };
    let Some(pid) = pid_file
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
    else {
        return;
    };
    let data_text = data.display().to_string();
    if !crate::process::process_runs_with(pid, &data_text) {
        return;
    }
    tracing::warn!(pid, data = %data_text, "stopping a private PostgreSQL left running by an earlier sandbox");
    crate::process::send_signal(pid, "INT");
    for _ in 0..100 {
        if !crate::process::process_runs_with(pid, &data_text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    crate::process::send_signal(pid, "KILL");
}

pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether a PostgreSQL server accepts this URL (within a few seconds).
pub async fn answers(url: &str) -> bool {
    match tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(url)).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            true
        }
        _ => false,
    }
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((authority, _)) => format!("{scheme}://{authority}"),
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// The sandbox's own database `toogoodtogo_sandbox_<n>` on some server.
#[derive(Debug, Clone)]
pub struct SandboxDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl SandboxDatabase {
    /// Creates the first free `toogoodtogo_sandbox_<n>`. CREATE DATABASE fails on an existing
    /// name, so a database that is someone else's is never taken over.
    pub async fn create(admin_url: &str) -> Result<Self, PostgresError> {
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        for n in 1..=1000 {
            let name = format!("toogoodtogo_sandbox_{n}");
            let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut admin)
                .await;
            match created {
                Ok(_) => {
                    let _ = admin.close().await;
                    return Ok(Self {
                        url: with_database(admin_url, &name),
                        name,
                        admin_url: admin_url.to_owned(),
                    });
                }
                // 42P04: the name exists; 23505: another CREATE DATABASE of that name raced us.
                Err(sqlx::Error::Database(error))
                    if matches!(error.code().as_deref(), Some("42P04" | "23505")) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(PostgresError::NoFreeName)
    }

    /// Drops the database, disconnecting whoever still uses it (only the sandbox's bot).
    pub async fn drop_database(&self) -> Result<(), PostgresError> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        let _ = admin.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_swap_only_the_database_name() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }

    #[test]
    fn no_server_binaries_fails_with_an_install_hint() {
        let empty = std::env::temp_dir().join(format!("no-postgres-{}", std::process::id()));
        let error = PostgresBinaries::find_in(&[empty])
            .err()
            .map(|e| e.to_string());
        let message = error.unwrap_or_default();
        assert!(
            message.contains("no PostgreSQL server binaries found"),
            "{message}"
        );
        assert!(message.contains("apt-get install postgresql"), "{message}");
    }

    #[test]
    fn nobody_cannot_reach_a_directory_only_root_may_enter() {
        let user = nobody();
        let root_only = std::env::temp_dir().join(format!("root-only-{}", std::process::id()));
        let inner = root_only.join("inner");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::set_permissions(&root_only, std::fs::Permissions::from_mode(0o700)).unwrap();
        let reachable = user.can_reach(&inner);
        std::fs::remove_dir_all(&root_only).unwrap();
        // Holds when the test runs as someone other than nobody (as root in CI).
        assert!(!reachable);
    }
}
