//! Where the daemon's control socket is, decided exactly as `peerd start`
//! decides where to listen: `--socket` (or `PEERD_SOCKET`, or `socket` in
//! the config file), else `<data dir>/peerd.sock` for an explicit data dir
//! (`--data-dir`, `PEERD_DATA_DIR`, or `data_dir` in the config file), else
//! the user's runtime directory ([`peerd_shared::paths::socket_path`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The keys of the daemon's config file that matter to a client; the
/// others are the daemon's business and are ignored here.
#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    #[serde(alias = "data-dir")]
    data_dir: Option<PathBuf>,
    socket: Option<PathBuf>,
}

/// The socket path from the explicit settings (flag or environment) and
/// the config file (`config`, else the user's `~/.config/peerd/config.toml`).
/// A config file that is missing or unreadable counts as empty: a daemon
/// would have refused to start with it, and the "not running" message
/// names the path looked at.
pub fn socket_path(
    socket: Option<&Path>,
    data_dir: Option<&Path>,
    config: Option<&Path>,
) -> PathBuf {
    let file = config
        .map(Path::to_path_buf)
        .or_else(peerd_shared::paths::config_file)
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| toml::from_str::<FileConfig>(&text).ok())
        .unwrap_or_default();
    let socket = socket.map(Path::to_path_buf).or(file.socket);
    let data_dir = data_dir.map(Path::to_path_buf).or(file.data_dir);
    peerd_shared::paths::socket_path(socket.as_deref(), data_dir.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_config_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            "server = \"10.0.0.1:8080\"\ndata_dir = \"/srv/peer\"\nrelay = \"auto\"\n",
        )
        .expect("write config");
        let c = Some(config.as_path());
        assert_eq!(
            socket_path(None, None, c),
            Path::new("/srv/peer/peerd.sock")
        );
        assert_eq!(
            socket_path(None, Some(Path::new("/d")), c),
            Path::new("/d/peerd.sock")
        );
        assert_eq!(
            socket_path(Some(Path::new("/s.sock")), None, c),
            Path::new("/s.sock")
        );
        std::fs::write(&config, "socket = \"/run/x.sock\"\n").expect("write config");
        assert_eq!(
            socket_path(None, Some(Path::new("/d")), c),
            Path::new("/run/x.sock"),
            "like the daemon: a configured socket beats a data dir"
        );
        std::fs::write(&config, "not toml [").expect("write config");
        assert_eq!(
            socket_path(None, Some(Path::new("/d")), c),
            Path::new("/d/peerd.sock")
        );
    }
}
