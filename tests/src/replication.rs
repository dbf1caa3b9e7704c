//! A replicated PostgreSQL on this machine, for failover tests: a primary and a standby that
//! streams from it synchronously (a commit returns once the standby has it, as CloudNativePG
//! does with `minSyncReplicas: 1`), both private clusters started from the installed server
//! binaries in a directory of their own. [`Replicated::fail_over`] does what an HA operator does
//! when the primary's node dies: the primary stops at once, the standby is promoted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{Error, eventually, free_port};

/// The primary and its standby; both stop, and their files go, when this is dropped.
pub struct Replicated {
    dir: PathBuf,
    bin: PathBuf,
    pub primary: SocketAddr,
    pub standby: SocketAddr,
}

/// The directory of the installed PostgreSQL server binaries (`initdb`, `pg_ctl`, ...).
fn server_binaries() -> Result<PathBuf, Error> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL server installed in /usr/lib/postgresql: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Replicated {
    pub async fn start() -> Result<Self, Error> {
        let bin = server_binaries()?;
        let dir = std::env::temp_dir().join(format!(
            "tgtg-replicated-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir)?;
        let this = Self {
            primary: SocketAddr::from(([127, 0, 0, 1], free_port())),
            standby: SocketAddr::from(([127, 0, 0, 1], free_port())),
            dir,
            bin,
        };
        // initdb refuses to run as root: the clusters belong to the postgres user then.
        if running_as_root() {
            this.run("chown", &["-R", "postgres:postgres", &this.path("")])?;
        }
        let primary = this.path("primary");
        this.server(
            "initdb",
            &[
                "-D",
                &primary,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        this.configure(
            "primary",
            &format!(
                "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
                 wal_level = replica\nmax_wal_senders = 4\nsynchronous_standby_names = '*'\n\
                 shared_buffers = 32MB\nmax_connections = 60\n",
                this.primary.port(),
                this.path("")
            ),
        )?;
        this.pg_ctl(&[
            "-D",
            &primary,
            "-l",
            &this.path("primary.log"),
            "-w",
            "start",
        ])?;
        let standby = this.path("standby");
        this.server(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &this.primary.port().to_string(),
                "-U",
                "postgres",
                "-D",
                &standby,
                "-R",
                "-X",
                "stream",
            ],
        )?;
        // Promoted, the standby must not wait for a standby of its own.
        this.configure(
            "standby",
            &format!(
                "port = {}\nsynchronous_standby_names = ''\n",
                this.standby.port()
            ),
        )?;
        this.pg_ctl(&[
            "-D",
            &standby,
            "-l",
            &this.path("standby.log"),
            "-w",
            "start",
        ])?;
        let primary_url = this.url(this.primary, "postgres");
        let synchronous = eventually(Duration::from_secs(30), || async {
            let pool = sqlx::PgPool::connect(&primary_url).await.ok()?;
            let sync: Option<String> =
                sqlx::query_scalar("SELECT sync_state FROM pg_stat_replication LIMIT 1")
                    .fetch_optional(&pool)
                    .await
                    .ok()?;
            pool.close().await;
            (sync.as_deref() == Some("sync")).then_some(())
        })
        .await;
        if synchronous.is_none() {
            return Err(format!(
                "the standby never streamed synchronously; see {}",
                this.path("standby.log")
            )
            .into());
        }
        Ok(this)
    }

    /// A postgres:// URL for `database` on `server`.
    pub fn url(&self, server: SocketAddr, database: &str) -> String {
        format!("postgres://postgres@{server}/{database}")
    }

    /// The primary's node dies: it stops at once (no shutdown checkpoint, connections cut), and
    /// the standby is promoted; returns once the new primary takes writes.
    pub async fn fail_over(&self) -> Result<(), Error> {
        self.pg_ctl(&["-D", &self.path("primary"), "-m", "immediate", "stop"])?;
        self.pg_ctl(&["-D", &self.path("standby"), "-w", "promote"])?;
        let url = self.url(self.standby, "postgres");
        let writable = eventually(Duration::from_secs(30), || async {
            let pool = sqlx::PgPool::connect(&url).await.ok()?;
            let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                .fetch_one(&pool)
                .await
                .ok()?;
            pool.close().await;
            (!recovering).then_some(())
        })
        .await;
        writable.ok_or_else(|| "the promoted standby never took writes".into())
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn configure(&self, cluster: &str, settings: &str) -> Result<(), Error> {
        use std::io::Write;
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(Path::new(&self.path(cluster)).join("postgresql.conf"))?;
        conf.write_all(settings.as_bytes())?;
        Ok(())
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), Error> {
        self.server("pg_ctl", args)
    }

    /// Runs a server binary, as the postgres user when this process is root.
    fn server(&self, program: &str, args: &[&str]) -> Result<(), Error> {
        let program = self.bin.join(program).to_string_lossy().into_owned();
        if running_as_root() {
            let mut full = vec!["-u", "postgres", "--", program.as_str()];
            full.extend_from_slice(args);
            self.run("runuser", &full)
        } else {
            self.run(&program, args)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), Error> {
        let output = std::process::Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .output()?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
            .into())
        }
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        for cluster in ["primary", "standby"] {
            let _ = self.pg_ctl(&["-D", &self.path(cluster), "-m", "immediate", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
