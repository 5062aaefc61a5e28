//! Files readable by their owner alone, and nothing removed that is not
//! peerd's own:
//!
//! - the daemon's data dir is created 0700, and everything in it (the key,
//!   the database with its WAL and SHM, the lock, the pinned server key,
//!   the socket) is 0600; an existing data dir other users can read is
//!   refused with the `chmod` that fixes it, and left untouched;
//! - files an older version left readable are narrowed to 0600, and the
//!   log says so;
//! - the server's database directory is created 0700, its database (WAL,
//!   SHM) and key 0600;
//! - `peerd start --socket` and `peerctl --socket` on a path that is not a
//!   socket (a regular file, /etc/passwd, a directory, a link) never remove
//!   it nor call it a stale socket.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::{peerctl_command, Daemon, Launch, Proc, Scratch, Server};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn the_daemon_and_the_server_keep_their_files_private() {
    let tmp = Scratch::new();
    let srv_dir = tmp.path("srv").join("registry");
    let db = srv_dir.join("registry.sqlite3");
    let mut server = Server::start("127.0.0.1:0", &db, &[]);
    let data = tmp.path("a").join("peerd");
    let a = Daemon::start(server.addr, &data);
    let b = Daemon::start(server.addr, &tmp.path("b"));
    let idb = b.wait_registered();
    a.send(idb, "hello", true).expect("send");

    assert_eq!(mode(&data), 0o700, "the data dir");
    for name in [
        "identity.key",
        "peerd.sqlite3",
        "peerd.sqlite3-wal",
        "peerd.sqlite3-shm",
        "peerd.lock",
        "server.pub",
        "peerd.sock",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&srv_dir), 0o700, "the server's directory");
    assert_eq!(mode(&tmp.path("srv")), 0o700, "a parent it created");
    for name in [
        "registry.sqlite3",
        "registry.sqlite3-wal",
        "registry.sqlite3-shm",
        "server.key",
    ] {
        assert_eq!(mode(&srv_dir.join(name)), 0o600, "{name}");
    }

    // Files an older version left readable are narrowed, and it is said.
    let mut a = a;
    assert!(a.stop().success());
    for name in ["identity.key", "peerd.sqlite3"] {
        chmod(&data.join(name), 0o644);
    }
    let a = Launch::new(server.addr, &data).start();
    for name in ["identity.key", "peerd.sqlite3"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name} narrowed");
        support::poll(format!("the log to say {name} was narrowed"), || {
            a.logs()
                .iter()
                .any(|l| l.contains(name) && l.contains("(mode 644)"))
                .then_some(())
        });
    }
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    chmod(&srv_dir.join("server.key"), 0o640);
    chmod(&db, 0o644);
    let server = Server::start("127.0.0.1:0", &db, &[]);
    assert_eq!(mode(&srv_dir.join("server.key")), 0o600);
    assert_eq!(mode(&db), 0o600);
    let log = server.wait_for_log("server.key was readable by others (mode 640)");
    assert!(log.contains("now 0600"), "{log}");
}

#[test]
fn a_data_dir_open_to_others_is_refused_with_the_command_that_fixes_it() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let data = tmp.path("shared dir");
    std::fs::create_dir(&data).expect("mkdir");
    chmod(&data, 0o755);
    let out = Proc::run(
        "peerd start on a readable dir",
        &mut Launch::new(server.addr, &data).command(),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "the data dir {} is open to other users (mode 755)",
            data.display()
        )),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("`chmod 700 '{}'`", data.display())),
        "the command, quoted for the shell: {out:?}"
    );
    assert_eq!(mode(&data), 0o755, "not changed behind the user's back");
    assert_eq!(
        std::fs::read_dir(&data).expect("read dir").count(),
        0,
        "nothing written into it"
    );
    // Once fixed as told, it starts.
    chmod(&data, 0o700);
    Launch::new(server.addr, &data).start();
}

/// What `path` holds now, to compare before and after.
fn snapshot(path: &Path) -> (u32, Vec<u8>) {
    let meta = std::fs::symlink_metadata(path).expect("stat");
    let bytes = if meta.is_file() {
        std::fs::read(path).expect("read")
    } else {
        Vec::new()
    };
    (meta.permissions().mode(), bytes)
}

#[test]
fn a_path_that_is_not_a_socket_is_never_removed_nor_called_stale() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let file = tmp.path("notes.txt");
    std::fs::write(&file, "precious\n").expect("write");
    let dir = tmp.path("a-directory");
    std::fs::create_dir(&dir).expect("mkdir");
    let link = tmp.path("link.sock");
    std::os::unix::fs::symlink(&file, &link).expect("symlink");
    let fifo = tmp.path("fifo");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
    // SAFETY: mkfifo(3) on a NUL-terminated path this test owns.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");

    for (path, what) in [
        (file.as_path(), "a regular file"),
        (dir.as_path(), "a directory"),
        (link.as_path(), "a symbolic link"),
        (fifo.as_path(), "a named pipe"),
    ] {
        let before = snapshot(path);
        let data = tmp.path(&format!("data-{}", what.replace(' ', "-")));
        let out = Proc::run(
            "peerd start --socket (not a socket)",
            &mut Launch::new(server.addr, &data).socket(path).command(),
        );
        assert_eq!(out.code, Some(1), "{what}: {out:?}");
        assert!(
            out.stderr.contains(&format!(
                "it is {what}, not a socket; peerd removes nothing"
            )),
            "{what}: {out:?}"
        );
        assert!(!out.stderr.contains("stale"), "{what}: {out:?}");
        assert_eq!(snapshot(path), before, "{what} left as it was");
        assert!(
            !data.join("identity.key").exists(),
            "no identity made for a daemon that cannot start"
        );
    }

    // peerctl, on the same paths and on /etc/passwd.
    let passwd = Path::new("/etc/passwd");
    let passwd_before = snapshot(passwd);
    for path in [
        file.as_path(),
        dir.as_path(),
        link.as_path(),
        fifo.as_path(),
        passwd,
    ] {
        let before = snapshot(path);
        let mut cmd = peerctl_command(&tmp.path("ctl.toml"), &[]);
        cmd.arg("--socket").arg(path).arg("status");
        let out = Proc::run("peerctl --socket (not a socket)", &mut cmd);
        assert_eq!(out.code, Some(1), "{}: {out:?}", path.display());
        assert!(
            out.stderr.contains("is not a socket"),
            "{}: {out:?}",
            path.display()
        );
        assert!(!out.stderr.contains("stale"), "{}: {out:?}", path.display());
        assert_eq!(snapshot(path), before);
    }
    assert_eq!(snapshot(passwd), passwd_before);
}
