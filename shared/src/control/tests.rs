//! Shapes of the control protocol's lines.

use super::*;

#[test]
fn request_lines_are_flat_and_strict() {
    let r: Request =
        serde_json::from_str(r#"{"req":3,"cmd":"send","to":2,"text":"hi","wait":true}"#).unwrap();
    assert_eq!(r.req, Some(3));
    assert!(matches!(
        r.command,
        Command::Send {
            wait: true,
            ttl_secs: None,
            ..
        }
    ));
    let r: Request = serde_json::from_str(r#"{"cmd":"id"}"#).unwrap();
    assert_eq!(r.command, Command::Id);
    assert!(serde_json::from_str::<Request>(r#"{"cmd":"nope"}"#).is_err());
    assert!(serde_json::from_str::<Request>(r#"{"cmd":"send","to":0,"text":""}"#).is_err());
}

#[test]
fn reply_shapes() {
    let id = Response::Id {
        id: PeerId::new(4),
        key: None,
        fingerprint: None,
    };
    let ok = serde_json::to_string(&Reply::ok(None, id)).unwrap();
    assert_eq!(ok, r#"{"ok":true,"result":{"kind":"id","id":4}}"#);
    let err =
        serde_json::to_string(&Reply::err(Some(1), ErrorKind::UnknownPeer, "no peer 9")).unwrap();
    assert_eq!(
        err,
        r#"{"req":1,"ok":false,"error":{"code":"unknown_peer","message":"no peer 9"}}"#
    );
    let r: Request = serde_json::from_str(r#"{"cmd":"ping","to":2}"#).unwrap();
    assert_eq!(
        r.command,
        Command::Ping {
            to: PeerId::new(2).unwrap()
        }
    );
    let r: Request = serde_json::from_str(r#"{"cmd":"key"}"#).unwrap();
    assert_eq!(r.command, Command::Key { id: None });
    let r: Request = serde_json::from_str(r#"{"cmd":"trust","id":3,"fingerprint":"ab"}"#).unwrap();
    assert!(matches!(
        r.command,
        Command::Trust {
            fingerprint: Some(_),
            ..
        }
    ));
    assert!(serde_json::from_str::<Request>(r#"{"cmd":"trust"}"#).is_err());
    let r: Request = serde_json::from_str(r#"{"cmd":"peers"}"#).unwrap();
    assert_eq!(r.command, Command::Peers);
    let paths = Response::Paths {
        peers: vec![PeerPathInfo {
            id: PeerId::new(2).unwrap(),
            path: PathWord::None,
            addr: None,
            state: "waiting".into(),
            rtt_ms: None,
            last_seen_ms: None,
            reason: Some("peer 2 is offline".into()),
            queued: 1,
        }],
    };
    assert_eq!(
        serde_json::to_string(&paths).unwrap(),
        r#"{"kind":"peers","peers":[{"id":2,"path":"none","state":"waiting","reason":"peer 2 is offline","queued":1}]}"#
    );
    let back: Reply = serde_json::from_str(&err).unwrap();
    assert_eq!(back.into_result().unwrap_err().code, ErrorKind::UnknownPeer);
}

#[test]
fn every_kind_is_its_commands_name() {
    let pairs = [
        (Response::Peers { peers: vec![] }, "list"),
        (Response::Paths { peers: vec![] }, "peers"),
        (Response::Following, "follow"),
        (Response::Stopping, "stop"),
        (Response::InboxPrune(Deleted { deleted: 3 }), "inbox_prune"),
        (
            Response::Key(KeyInfo {
                id: None,
                key: "k".into(),
                fingerprint: "f".into(),
                offered: None,
                offered_fingerprint: None,
            }),
            "key",
        ),
        (
            Response::Trust(Trusted {
                id: PeerId::new(2).unwrap(),
                key: "k".into(),
                fingerprint: "f".into(),
                replaced: Some("g".into()),
            }),
            "trust",
        ),
    ];
    for (response, kind) in pairs {
        let v = serde_json::to_value(&response).unwrap();
        assert_eq!(v["kind"], kind, "{v}");
        assert_eq!(serde_json::from_value::<Response>(v).unwrap(), response);
    }
    let sent: Response =
        serde_json::from_str(r#"{"kind":"send","to":2,"msg":1,"status":"queued","expires_ms":5}"#)
            .unwrap();
    assert!(matches!(sent, Response::Sent(_)));
    let pong: Response =
        serde_json::from_str(r#"{"kind":"ping","to":2,"path":"direct","rtt_ms":0.5}"#).unwrap();
    assert!(matches!(pong, Response::Pong(_)));
}
