//! The server's key (docs/protocol.md 3.5 and 8): `--print-key` prints the
//! key the server logs and serves (stdout) and its fingerprint (stderr),
//! creating a private key file that is then reused; `--key-file` puts it
//! elsewhere; a file that is not a key is a clear error; KEY_REQUEST of 64
//! bytes is answered with the key, shorter ones are not; a handshake made
//! for another key gets no answer.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use peerd_shared::proto::frame::{key_request, KEY_REPLY_LEN};
use peerd_shared::proto::{Frame, PublicKey, SecretKey, MAX_DATAGRAM};
use support::*;

const QUIET: Duration = Duration::from_millis(300);

/// `peerd server --print-key` with `args`: the key (stdout) and the
/// fingerprint (stderr).
fn print_key(args: &[&std::ffi::OsStr]) -> (PublicKey, String) {
    let out = Proc::run(
        "peerd server --print-key",
        Command::new(peerd_bin())
            .args(["server", "--print-key"])
            .args(args),
    );
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "the key alone: {out:?}");
    let key: PublicKey = out.stdout.trim().parse().expect("a key on stdout");
    assert_eq!(out.stdout.trim().len(), 44);
    let fingerprint = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .unwrap_or_else(|| panic!("no fingerprint on stderr: {out:?}"))
        .to_owned();
    (key, fingerprint)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn print_key_prints_the_served_key_and_creates_a_private_reused_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state").join("registry.sqlite3");
    let key_file = db.with_file_name("server.key");
    let (key, fingerprint) = print_key(&["--db".as_ref(), db.as_os_str()]);
    assert_eq!(fingerprint, key.fingerprint());
    assert_eq!(mode(&key_file), 0o600, "the key file is private");
    let text = std::fs::read_to_string(&key_file).expect("key file");
    assert_eq!(text.trim().len(), 44);
    let secret = SecretKey::load(&key_file).expect("the file holds a private key");
    assert_eq!(secret.public_key(), key, "... whose public key is printed");
    assert_eq!(
        print_key(&["--db".as_ref(), db.as_os_str()]).0,
        key,
        "reused"
    );

    let server = Server::start("127.0.0.1:0", &db, &[]);
    let line = server.wait_for_log(&format!("server key {key} (fingerprint {fingerprint})"));
    assert!(
        !line.contains(", new"),
        "the key was made by --print-key: {line}"
    );
    assert_eq!(server.key(), key);
    // It may run while the server does, and says the same.
    assert_eq!(print_key(&["--db".as_ref(), db.as_os_str()]).0, key);
    let mut p = Peer::join(&server);
    assert!(matches!(
        p.call(Req::Keepalive).body(),
        peerd_shared::proto::Body::KeepaliveAck { .. }
    ));
    assert_eq!(std::fs::read_to_string(&key_file).expect("key"), text);
}

#[test]
fn a_new_server_makes_its_key_and_says_so() {
    let server = Server::fresh(&[]);
    let line = server.wait_for_log("server key ");
    assert!(line.ends_with(", new"), "{line}");
    let key_file = server.db.with_file_name("server.key");
    assert_eq!(mode(&key_file), 0o600);
    assert!(!key_file.with_extension("tmp").exists());
}

#[test]
fn the_directory_the_server_makes_for_its_key_is_private() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("fresh").join("registry.sqlite3");
    print_key(&["--db".as_ref(), db.as_os_str()]);
    assert_eq!(mode(db.parent().expect("dir")), 0o700);
}

#[test]
fn key_file_flag_chooses_the_key_and_other_keys_get_no_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("registry.sqlite3");
    let elsewhere = dir.path().join("keys").join("node.key");
    let (key, _) = print_key(&["--key-file".as_ref(), elsewhere.as_os_str()]);
    let (default_key, _) = print_key(&["--db".as_ref(), db.as_os_str()]);
    assert_ne!(key, default_key);
    assert_eq!(mode(&elsewhere), 0o600);

    let flag = elsewhere.to_str().expect("utf-8 path");
    let server = Server::start("127.0.0.1:0", &db, &["--key-file", flag]);
    assert_eq!(server.key(), key);
    let raw = server.client();
    raw.send(&key_request());
    assert_eq!(answered_key(&raw.recv()), key);

    // A handshake for the key beside the database (not the one served):
    // its mac1 is wrong for this server, so it is dropped unanswered.
    let mut stranger = Keys::new(default_key);
    raw.send_unanswered(&stranger.init().0, QUIET);
    let p = Peer::join(&server);
    assert_eq!(p.id.get(), 1, "the dropped handshake took no id");
}

#[test]
fn a_key_file_that_is_not_a_key_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("server.key");
    std::fs::write(&bad, "not a key\n").expect("write");
    for extra in [&["--print-key"][..], &["--listen", "127.0.0.1:0"]] {
        let out = Proc::run(
            "peerd server with a bad key file",
            Command::new(peerd_bin())
                .arg("server")
                .args(extra)
                .arg("--db")
                .arg(dir.path().join("registry.sqlite3")),
        );
        assert!(!out.success(), "{out:?}");
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            said.contains(&bad.display().to_string()) && said.contains("not a key"),
            "{said}"
        );
    }
    assert_eq!(std::fs::read_to_string(&bad).expect("kept"), "not a key\n");
}

/// The key of a KEY_REPLY, checked to the byte.
fn answered_key(reply: &[u8]) -> PublicKey {
    assert_eq!(reply.len(), KEY_REPLY_LEN);
    match Frame::parse(reply) {
        Ok(Frame::KeyReply(key)) => key,
        other => panic!("not a KEY_REPLY: {other:?}"),
    }
}

#[test]
fn key_request_of_64_bytes_is_answered_and_63_is_not() {
    let server = Server::fresh(&[]);
    let key = server.key();
    let c = server.client();
    let request = key_request();
    assert_eq!(request.len(), 64);
    c.send(&request);
    let reply = c.recv();
    assert_eq!(answered_key(&reply), key);
    assert_eq!(&reply[..2], &[0xA6, 2]);
    assert!(reply.len() <= request.len(), "no amplification");

    c.send_unanswered(&request[..63], QUIET);
    c.send_unanswered(&[0xA5], QUIET);
    // Any bytes after the type, up to the datagram limit, are not looked at.
    let mut long = vec![0x5A; MAX_DATAGRAM];
    long[0] = 0xA5;
    c.send(&long);
    assert_eq!(answered_key(&c.recv()), key);
    long.push(0);
    c.send_unanswered(&long, QUIET);
}
