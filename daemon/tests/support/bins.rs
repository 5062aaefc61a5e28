//! The binaries under test, and the environment they run in: nothing of the
//! user's own peerd configuration (`PEERD_*` variables, the config file in
//! `~/.config/peerd`) may leak into a test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `peerd` binary of this build.
pub fn peerd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peerd"))
}

/// The `peerctl` binary next to `peerd`, brought up to date once per test
/// process with `cargo build -p peerctl` (Cargo builds only this package's
/// binaries for its tests, so `cargo test -p peerd` alone would run a
/// stale or missing `peerctl`); without cargo at hand, whatever is there.
pub fn peerctl_bin() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let path = peerd_bin().with_file_name("peerctl");
            let cargo = option_env!("CARGO").unwrap_or("cargo");
            let release = path.parent().is_some_and(|d| d.ends_with("release"));
            let built = Command::new(cargo)
                .args(["build", "-q", "-p", "peerctl"])
                .args(release.then_some("--release"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status();
            match built {
                Ok(status) if !status.success() => {
                    Err(format!("`cargo build -p peerctl` failed ({status})"))
                }
                _ if path.exists() => Ok(path),
                _ => Err(format!(
                    "no peerctl at {} (cargo build -p peerctl)",
                    path.display()
                )),
            }
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Keeps `cmd` (peerd or peerctl) away from the user's settings: every
/// `PEERD_*` variable removed, `PEERD_CONFIG` pointing at `config` (an
/// empty file is created there if none exists), and the config directory
/// moved next to it.
pub fn isolate(cmd: &mut Command, config: &Path) {
    if !config.exists() {
        if let Some(dir) = config.parent() {
            std::fs::create_dir_all(dir).expect("directory of the test config");
        }
        std::fs::write(config, "").expect("write an empty test config");
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PEERD_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PEERD_CONFIG", config);
    if let Some(dir) = config.parent() {
        cmd.env("XDG_CONFIG_HOME", dir.join(".config"));
    }
}
