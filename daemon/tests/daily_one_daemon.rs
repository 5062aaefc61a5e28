//! One daemon per identity: while `peerd start` runs on a data dir, a
//! second start on the same data dir fails at once, whatever its socket
//! (a desktop session and an ssh login pick different sockets), with or
//! without `--detach`, naming the running daemon's pid and socket; the
//! running one keeps its id and its socket. Once it is gone (stopped, or
//! killed: the kernel drops the lock), the data dir is free again.

mod support;

use support::{Launch, Proc, Scratch};

#[test]
fn a_second_start_on_the_same_data_dir_fails_naming_the_first() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let data = tmp.path("a");
    let mut first = Launch::new(server.addr, &data).start();
    let id = first.wait_registered();
    let pid = first.status().expect("status").pid.expect("pid");
    let expected = format!(
        "another peerd (pid {pid}) is running with the data dir {}, control socket {}",
        data.display(),
        first.socket.display()
    );

    let other_socket = tmp.path("elsewhere.sock");
    for detach in [false, true] {
        let mut launch = Launch::new(server.addr, &data).socket(&other_socket);
        if detach {
            launch = launch.args(&["--detach"]);
        }
        let out = Proc::run("a second peerd start", &mut launch.command());
        assert_eq!(out.code, Some(1), "--detach {detach}: {out:?}");
        assert!(out.stderr.contains(&expected), "--detach {detach}: {out:?}");
        assert!(
            out.stderr.contains(&format!(
                "`peerctl --socket {} stop`",
                first.socket.display()
            )),
            "{out:?}"
        );
        assert!(!other_socket.exists(), "the second daemon bound nothing");
    }

    // The first one did not notice: same id, same socket, registered.
    let status = first.status().expect("status");
    assert_eq!((status.id, status.pid), (Some(id), Some(pid)));
    assert!(first.socket.exists());

    // Stopped, it frees the data dir.
    assert!(first.stop().success());
    let mut second = Launch::new(server.addr, &data)
        .socket(&other_socket)
        .start();
    assert_eq!(second.wait_registered(), id, "the same identity");

    // Killed (no clean-up at all), it frees it too.
    second.kill9();
    let third = Launch::new(server.addr, &data).start();
    assert_eq!(third.wait_registered(), id);
}
