//! The client against scripted stand-ins for the daemon's socket.

use super::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

#[tokio::test]
async fn missing_and_stale_sockets_are_told_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("peerd.sock");
    let err = Client::connect(&path).await.unwrap_err();
    assert!(matches!(err, ClientError::NotRunning { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "peerd is not running (no socket at {}); start it with `peerd start`",
            path.display()
        )
    );
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    let err = Client::connect(&path).await.unwrap_err();
    assert!(matches!(err, ClientError::StaleSocket { .. }), "{err:?}");
    assert_eq!(err.code(), "not_running");
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_never_called_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("passwd");
    std::fs::write(&file, "root:x:0:0\n").expect("write");
    let err = Client::connect(&file).await.unwrap_err();
    assert!(matches!(err, ClientError::NotASocket { .. }), "{err:?}");
    assert_eq!(err.code(), "not_a_socket");
    assert!(err.to_string().starts_with(&format!(
        "{} is not a socket but a regular file",
        file.display()
    )));
    let err = Client::connect(dir.path()).await.unwrap_err();
    assert!(
        err.to_string().contains("is not a socket but a directory"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "root:x:0:0\n"
    );
}

#[tokio::test]
async fn a_reply_line_over_the_limit_is_a_protocol_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("peerd.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let huge = vec![b'x'; MAX_REPLY_LINE + 10];
        stream.write_all(&huge).await.expect("write");
        stream.write_all(b"\n").await.expect("write");
        stream
    });
    let mut client = Client::connect(&path).await.expect("connect");
    let err = client.request(Command::Id).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("unexpected answer from peerd: line longer than {MAX_REPLY_LINE} bytes")
    );
    drop(server.await.expect("fake daemon"));
}

#[tokio::test]
async fn request_reply_and_follow_against_a_fake_daemon() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("peerd.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let first = lines.next_line().await.expect("read").expect("line");
        assert_eq!(first, r#"{"req":1,"cmd":"id"}"#);
        write
            .write_all(b"{\"req\":1,\"ok\":true,\"result\":{\"kind\":\"id\",\"id\":7}}\n")
            .await
            .expect("write");
        let second = lines.next_line().await.expect("read").expect("line");
        assert!(second.contains("\"cmd\":\"send\""), "{second}");
        write
            .write_all(b"{\"req\":2,\"ok\":false,\"error\":{\"code\":\"unknown_peer\",\"message\":\"no peer 9\"}}\n")
            .await
            .expect("write");
        let third = lines.next_line().await.expect("read").expect("line");
        assert!(third.contains("\"cmd\":\"follow\""), "{third}");
        write
            .write_all(b"{\"req\":3,\"ok\":true,\"result\":{\"kind\":\"follow\"}}\n{\"event\":\"future_thing\"}\n{\"event\":\"live\"}\n")
            .await
            .expect("write");
    });
    let mut client = Client::connect(&path).await.expect("connect");
    let id = client.request(Command::Id).await.expect("id");
    assert!(matches!(id, Response::Id { id: Some(i), .. } if i == PeerId::new(7).unwrap()));
    let err = client
        .request(Command::Send {
            to: PeerId::new(9).expect("id"),
            text: "hi".into(),
            ttl_secs: None,
            wait: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_peer");
    assert_eq!(err.to_string(), "no peer 9");
    let mut follower = client.follow(None, None).await.expect("follow");
    assert_eq!(
        follower.next_event().await.expect("event"),
        Some(Event::Live)
    );
    server.await.expect("fake daemon");
    assert_eq!(follower.next_event().await.expect("eof"), None);
}

#[tokio::test]
async fn pipelined_requests_get_their_replies_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("peerd.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        // Read all three requests before answering any.
        let mut reqs = Vec::new();
        for _ in 0..3 {
            let line = lines.next_line().await.expect("read").expect("line");
            let v: serde_json::Value = serde_json::from_str(&line).expect("json");
            reqs.push(v["req"].as_u64().expect("req"));
        }
        for req in reqs {
            let reply = format!(
                "{{\"req\":{req},\"ok\":true,\"result\":{{\"kind\":\"id\",\"id\":{req}}}}}\n"
            );
            write.write_all(reply.as_bytes()).await.expect("write");
        }
    });
    let mut client = Client::connect(&path).await.expect("connect");
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(client.submit(Command::Id).await.expect("submit"));
    }
    for req in sent {
        let (answered, outcome) = client.next_reply().await.expect("reply");
        assert_eq!(answered, Some(req));
        assert_eq!(
            outcome,
            Ok(Response::Id {
                id: PeerId::new(req),
                key: None,
                fingerprint: None,
            })
        );
    }
    server.await.expect("fake daemon");
}
