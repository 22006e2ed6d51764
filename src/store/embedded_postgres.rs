//! A private PostgreSQL cluster under the data directory, run from the machine's own binaries.
//!
//! Used when no `DATABASE_URL` is set and no server answers on the default address. The
//! cluster listens only on a Unix socket, is started on demand and stopped by whoever
//! started it. PostgreSQL refuses to run as root, so under root the cluster is owned and
//! run by the unprivileged `postgres` (or `nobody`) account.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use nix::unistd::{Gid, Uid, User};
use sqlx::postgres::PgConnectOptions;
use tokio::process::Command;

/// Port number in the socket file name; no TCP port is opened.
const SOCKET_PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_PATH: usize = 100;
/// Where Debian-style packages install one `bin/` per major version.
const DEBIAN_VERSIONS_ROOT: &str = "/usr/lib/postgresql";
/// The superuser created by `initdb`.
const SUPERUSER: &str = "postgres";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL server binaries found (initdb and pg_ctl, on PATH or in \
         /usr/lib/postgresql/*/bin): install PostgreSQL or set DATABASE_URL"
    )]
    NoBinaries,
    #[error(
        "running as root, and no unprivileged 'postgres' or 'nobody' account exists to run \
         the private PostgreSQL cluster: set DATABASE_URL instead"
    )]
    NoUnprivilegedUser,
    #[error("{action} failed: {detail}")]
    Command { action: String, detail: String },
    #[error("{action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: Uid,
    gid: Gid,
}

/// A running private cluster; stop it with [`EmbeddedPostgres::stop`] (dropping also stops it).
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    cluster_dir: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<RunAs>,
    started_here: bool,
}

impl EmbeddedPostgres {
    /// The directory holding `initdb` and `pg_ctl`: first on `PATH`, else the newest
    /// `/usr/lib/postgresql/<version>/bin`.
    pub fn find_binaries() -> Option<PathBuf> {
        find_binaries_in(std::env::var_os("PATH"), Path::new(DEBIAN_VERSIONS_ROOT))
    }

    /// Initialises the cluster on first use and starts it unless it already runs
    /// (another pulse-etl process on the same data directory started it).
    pub async fn start(data_dir: &Path) -> Result<Self, EmbeddedError> {
        let bin_dir = Self::find_binaries().ok_or(EmbeddedError::NoBinaries)?;
        let run_as = unprivileged_account()?;
        let cluster_dir = data_dir.join("postgres");
        create_owned_dir(&cluster_dir, run_as)?;
        let socket_dir = socket_dir_for(&cluster_dir, run_as)?;
        let mut cluster = EmbeddedPostgres {
            bin_dir,
            cluster_dir,
            socket_dir,
            run_as,
            started_here: false,
        };
        if !cluster.cluster_dir.join("PG_VERSION").is_file() {
            tracing::info!(dir = %cluster.cluster_dir.display(), "initialising private PostgreSQL cluster");
            cluster.initdb().await?;
        }
        if !cluster.is_running().await? {
            tracing::info!(socket = %cluster.socket_dir.display(), "starting private PostgreSQL cluster");
            cluster.pg_ctl_start().await?;
            cluster.started_here = true;
        }
        Ok(cluster)
    }

    /// Where the cluster keeps its files.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// Connection options for `database` on this cluster's socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(SOCKET_PORT)
            .username(SUPERUSER)
            .database(database)
    }

    /// Shown in logs and errors.
    pub fn describe(&self) -> String {
        format!("private cluster at {}", self.cluster_dir.display())
    }

    /// True when a postmaster serves this cluster.
    pub async fn is_running(&self) -> Result<bool, EmbeddedError> {
        let output = self
            .command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.cluster_dir)
            .output()
            .await
            .map_err(|source| self.io_error(source))?;
        Ok(output.status.success())
    }

    /// Stops the cluster if this process started it; a cluster started by another process
    /// is left running for that process.
    pub async fn stop(mut self) -> Result<(), EmbeddedError> {
        if !self.started_here {
            return Ok(());
        }
        self.started_here = false;
        let output = self
            .command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-s", "-D"])
            .arg(&self.cluster_dir)
            .output()
            .await
            .map_err(|source| self.io_error(source))?;
        check("stopping the private PostgreSQL cluster", &output)
    }

    async fn initdb(&self) -> Result<(), EmbeddedError> {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&self.cluster_dir)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ])
            .output()
            .await
            .map_err(|source| self.io_error(source))?;
        check("initdb of the private PostgreSQL cluster", &output)
    }

    async fn pg_ctl_start(&self) -> Result<(), EmbeddedError> {
        let log = self.cluster_dir.join("server.log");
        let options = format!(
            "-c listen_addresses='' -k '{}' -p {SOCKET_PORT}",
            self.socket_dir.display()
        );
        let output = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-s", "-D"])
            .arg(&self.cluster_dir)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(options)
            .output()
            .await
            .map_err(|source| self.io_error(source))?;
        check("starting the private PostgreSQL cluster", &output).map_err(|error| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            match error {
                EmbeddedError::Command { action, detail } if !tail.is_empty() => {
                    EmbeddedError::Command {
                        action,
                        detail: format!(
                            "{detail}; server log: {}",
                            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                        ),
                    }
                }
                other => other,
            }
        })
    }

    fn command(&self, tool: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(tool));
        command.current_dir(&self.cluster_dir).kill_on_drop(true);
        if let Some(RunAs { uid, gid }) = self.run_as {
            command.uid(uid.as_raw()).gid(gid.as_raw());
        }
        command
    }

    fn io_error(&self, source: io::Error) -> EmbeddedError {
        EmbeddedError::Io {
            action: "running PostgreSQL tools from",
            path: self.bin_dir.clone(),
            source,
        }
    }
}

impl Drop for EmbeddedPostgres {
    /// Last resort when [`EmbeddedPostgres::stop`] was not awaited (an error path): stop
    /// the cluster synchronously so no orphan postmaster outlives the process.
    fn drop(&mut self) {
        if !self.started_here {
            return;
        }
        let mut command = std::process::Command::new(self.bin_dir.join("pg_ctl"));
        command
            .args(["stop", "-m", "fast", "-w", "-s", "-D"])
            .arg(&self.cluster_dir)
            .current_dir(&self.cluster_dir);
        if let Some(RunAs { uid, gid }) = self.run_as {
            std::os::unix::process::CommandExt::uid(&mut command, uid.as_raw());
            std::os::unix::process::CommandExt::gid(&mut command, gid.as_raw());
        }
        if let Err(error) = command.output() {
            tracing::warn!(%error, "could not stop the private PostgreSQL cluster");
        }
    }
}

fn find_binaries_in(path: Option<std::ffi::OsString>, versions_root: &Path) -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = path.and_then(|path| std::env::split_paths(&path).find(|dir| has_tools(dir)))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(versions_root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn check(action: &str, output: &Output) -> Result<(), EmbeddedError> {
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let detail = [stderr.trim(), stdout.trim()]
        .into_iter()
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Err(EmbeddedError::Command {
        action: action.to_owned(),
        detail: if detail.is_empty() {
            format!("exit status {}", output.status)
        } else {
            detail
        },
    })
}

/// Under root, the account that owns and runs the cluster; otherwise none (run as ourselves).
fn unprivileged_account() -> Result<Option<RunAs>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(|name| User::from_name(name).ok().flatten())
        .map(|user| {
            Some(RunAs {
                uid: user.uid,
                gid: user.gid,
            })
        })
        .ok_or(EmbeddedError::NoUnprivilegedUser)
}

fn create_owned_dir(dir: &Path, run_as: Option<RunAs>) -> Result<(), EmbeddedError> {
    let io = |source| EmbeddedError::Io {
        action: "preparing directory",
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    if let Some(RunAs { uid, gid }) = run_as {
        std::os::unix::fs::chown(dir, Some(uid.as_raw()), Some(gid.as_raw())).map_err(io)?;
    }
    Ok(())
}

/// The cluster directory itself when the socket path fits, else a per-cluster directory
/// under the system temp directory.
fn socket_dir_for(cluster_dir: &Path, run_as: Option<RunAs>) -> Result<PathBuf, EmbeddedError> {
    let socket_file = format!(".s.PGSQL.{SOCKET_PORT}");
    if cluster_dir.join(&socket_file).as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok(cluster_dir.to_path_buf());
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    cluster_dir.hash(&mut hasher);
    let dir = std::env::temp_dir().join(format!("pulse-etl-pg-{:016x}", hasher.finish()));
    create_owned_dir(&dir, run_as)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(root: &Path, version: &str) -> PathBuf {
        let bin = root.join(version).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for tool in ["initdb", "pg_ctl"] {
            std::fs::write(bin.join(tool), "").unwrap();
        }
        bin
    }

    #[test]
    fn no_binaries_anywhere_is_none() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(find_binaries_in(None, empty.path()), None);
        assert_eq!(
            find_binaries_in(Some("".into()), &empty.path().join("missing")),
            None
        );
        assert!(EmbeddedError::NoBinaries
            .to_string()
            .contains("set DATABASE_URL"));
    }

    #[test]
    fn path_wins_then_the_newest_version() {
        let root = tempfile::tempdir().unwrap();
        fake_bin(root.path(), "9");
        let newest = fake_bin(root.path(), "15");
        std::fs::create_dir_all(root.path().join("16/bin")).unwrap(); // no tools inside
        assert_eq!(find_binaries_in(None, root.path()), Some(newest));
        let on_path = fake_bin(&root.path().join("elsewhere"), "x");
        let path = std::env::join_paths([root.path().join("nothing"), on_path.clone()]).unwrap();
        assert_eq!(find_binaries_in(Some(path), root.path()), Some(on_path));
    }
}
