//! Reloading from the configuration file: on demand (SIGHUP, in the CLI) and when the file
//! changes.
//!
//! Changes are found by polling, not by filesystem notifications: every `interval`, the
//! metadata (modification time, size, and on Unix the inode) of the configuration file and of
//! the TLS and origin list files it names is compared with what was last seen. Polling one
//! `stat` per file per interval costs nothing, and unlike inotify-style watches it sees every
//! way a file gets replaced: an editor's write-to-temp-and-rename, a Kubernetes ConfigMap's
//! symlink swap (metadata follows symlinks), a network filesystem that sends no events, a file
//! that did not exist yet. A change is reloaded once the metadata has held still for a moment,
//! so a file caught half-written is not loaded (and if it is, it is refused and the next write
//! reloads).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crossgate::policy::Problem;
use tokio::task::JoinHandle;

use crate::config::{GatewayConfig, LoadError};
use crate::handle::{GatewayHandle, log_refused};
use crate::upstream::Upstream;

const TARGET: &str = "crossgate::gateway";

/// A configuration file and the command-line overrides applied on top of it at every load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFile {
    /// The configuration file (TOML, JSON or YAML by its extension); origin list and TLS files
    /// it names are relative to its directory.
    pub path: PathBuf,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--upstream`.
    pub upstream: Option<Upstream>,
}

impl ConfigFile {
    /// The file at `path`, without overrides.
    pub fn new(path: impl Into<PathBuf>) -> ConfigFile {
        ConfigFile {
            path: path.into(),
            listen: None,
            upstream: None,
        }
    }

    /// Loads the file ([`GatewayConfig::load`]) and applies the overrides.
    pub fn load(&self) -> Result<(GatewayConfig, Vec<Problem>), LoadError> {
        let (mut config, warnings) = GatewayConfig::load(&self.path)?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(upstream) = &self.upstream {
            config.upstream = Some(upstream.clone());
        }
        Ok((config, warnings))
    }
}

impl GatewayHandle {
    /// Loads `file` and reloads from it ([`GatewayHandle::reload`]). A file that cannot be read
    /// or is invalid is refused, every problem logged, and the configuration in force kept.
    /// Returns whether the new configuration is in force.
    pub fn reload_file(&self, file: &ConfigFile) -> bool {
        match file.load() {
            Ok((config, _warnings)) => self.reload(config).is_ok(),
            Err(e) => {
                self.shared.metrics.reloaded(false);
                match &e {
                    LoadError::Read { .. } => {
                        tracing::error!(target: TARGET, "{e}");
                        log_refused(&[]);
                    }
                    LoadError::Invalid { problems, .. } => log_refused(problems),
                }
                false
            }
        }
    }

    /// Polls `file` (and the TLS files of the configuration in force) every `interval`, and
    /// reloads when any of them changes. Runs until the task is aborted.
    pub fn watch(&self, file: ConfigFile, interval: Duration) -> JoinHandle<()> {
        let handle = self.clone();
        tokio::spawn(async move {
            let mut seen = handle.stamp(&file);
            loop {
                tokio::time::sleep(interval).await;
                let now = handle.stamp(&file);
                if now == seen {
                    continue;
                }
                // Let a write in progress finish: reload once the metadata holds still.
                let settle = (interval / 4).max(Duration::from_millis(20));
                let mut now = now;
                loop {
                    tokio::time::sleep(settle).await;
                    let again = handle.stamp(&file);
                    if again == now {
                        break;
                    }
                    now = again;
                }
                tracing::info!(target: TARGET, path = %file.path.display(), "configuration file changed: reloading");
                handle.reload_file(&file);
                // Stamp again: a reload may name other TLS or origin list files.
                seen = handle.stamp(&file);
            }
        })
    }

    fn stamp(&self, file: &ConfigFile) -> Vec<Option<Stamp>> {
        let mut paths: Vec<PathBuf> = vec![file.path.clone()];
        let current = self.shared.current.load();
        if let Some(tls) = &current.config.tls {
            paths.push(tls.cert.clone());
            paths.push(tls.key.clone());
        }
        paths.extend(current.config.origin_files.iter().cloned());
        paths.iter().map(|p| Stamp::of(p)).collect()
    }
}

/// What is compared to notice that a file changed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        })
    }
}
