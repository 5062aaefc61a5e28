//! A full disk loses nothing: the daemon's data dir is a small tmpfs that
//! the test fills up. Sends the daemon cannot store are refused with the
//! `storage` error and never delivered; messages sent *to* it while it
//! cannot store them are not acknowledged, so their sender keeps them
//! queued, and once space is freed every accepted message arrives exactly
//! once. The daemon keeps serving its control socket throughout.
//!
//! Needs root (to mount the tmpfs). Outside CI without root it prints why it
//! skips; under `CI=true` it fails instead.

mod support;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use peerctl::ClientError;
use peerd_shared::control::ErrorKind;
use support::{poll, Daemon, Scratch};

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Writes a filler file until the file system says it is full.
    fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut f = File::create(&path).expect("create filler");
        let chunk = vec![0u8; 16 * 1024];
        loop {
            if f.write_all(&chunk).and_then(|()| f.sync_data()).is_err() {
                break;
            }
        }
        // Squeeze out the last partial block too.
        while f
            .write_all(&[0u8; 512])
            .and_then(|()| f.sync_data())
            .is_ok()
        {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn can_run(name: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return true;
    }
    let why = format!("{name}: needs root to mount a tmpfs");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} (CI=true)"
    );
    eprintln!("skipped: {why}");
    false
}

#[test]
fn full_disk_refuses_cleanly_and_loses_nothing() {
    if !can_run("full_disk_refuses_cleanly_and_loses_nothing") {
        return;
    }
    let tmp = Scratch::new();
    let server = tmp.server();
    let disk = SmallDisk::mount(&tmp.path("small"), "3m").expect("tmpfs");
    let full = Daemon::start(server.addr, &disk.dir);
    let other = Daemon::start(server.addr, &tmp.path("other"));
    let id_full = full.wait_registered();
    let id_other = other.wait_registered();

    let filler = disk.fill();

    // Sends from the full daemon: each is either accepted (stored) or
    // refused with `storage`; the disk is too small for all of them.
    let text = "x".repeat(900);
    let mut accepted = Vec::new();
    let mut refused = 0;
    for i in 0..300 {
        let body = format!("{i:03} {text}");
        match full.send(id_other, &body, false) {
            Ok(_) => accepted.push(body),
            Err(ClientError::Daemon(e)) => {
                assert_eq!(e.code, ErrorKind::Storage, "{e:?}");
                assert!(!e.message.is_empty(), "{e:?}");
                refused += 1;
            }
            Err(e) => panic!("send {i}: {e}"),
        }
    }
    assert!(refused > 0, "a full disk must refuse some sends");

    // Messages to the full daemon while it cannot store them.
    for i in 0..20 {
        other
            .send(id_full, &format!("to-full {i}"), false)
            .expect("send to the full daemon");
    }

    // Still serving its control socket.
    full.status().expect("status of the full daemon");

    std::fs::remove_file(&filler).expect("free the disk");

    let mut want_to_full: Vec<String> = (0..20).map(|i| format!("to-full {i}")).collect();
    want_to_full.sort();
    poll("messages to the once-full daemon", || {
        (full.texts_from(id_other).len() >= want_to_full.len()).then_some(())
    });
    poll("accepted messages from the once-full daemon", || {
        (other.texts_from(id_full).len() >= accepted.len()).then_some(())
    });
    let mut got = full.texts_from(id_other);
    got.sort();
    assert_eq!(
        got, want_to_full,
        "each message to the full daemon exactly once"
    );
    let mut got = other.texts_from(id_full);
    got.sort();
    accepted.sort();
    assert_eq!(
        got, accepted,
        "exactly the accepted sends arrive, each once"
    );
}
