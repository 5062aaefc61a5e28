use super::*;

#[test]
fn an_ipv4_mapped_server_address_is_the_ipv4_one() {
    let listen: SocketAddr = "0.0.0.0:0".parse().expect("addr");
    let got = resolve_server("[::ffff:127.0.0.1]:9000", listen).expect("resolved");
    assert_eq!(got, ["127.0.0.1:9000".parse::<SocketAddr>().expect("addr")]);
}

fn args_with_config(text: &str) -> (tempfile::TempDir, StartArgs) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write config");
    let args = StartArgs {
        config: Some(path),
        ..StartArgs::default()
    };
    (dir, args)
}

#[test]
fn file_fills_in_and_flags_win() {
    let (_dir, mut args) =
        args_with_config("server = \"127.0.0.1:9\"\ndata_dir = \"/tmp/pd\"\nrelay = \"always\"\n");
    let c = Config::resolve(&args).expect("resolve");
    assert_eq!(c.relay, RelayPolicy::Always);
    assert_eq!(c.server, "127.0.0.1:9".parse().unwrap());
    assert_eq!(c.data_dir, PathBuf::from("/tmp/pd"));
    assert_eq!(c.socket, PathBuf::from("/tmp/pd/peerd.sock"));
    args.server = Some("localhost:7".into());
    args.socket = Some("/tmp/s.sock".into());
    let c = Config::resolve(&args).expect("resolve");
    assert_eq!(c.server.port(), 7);
    assert!(c.server.ip().is_loopback());
    assert_eq!(c.socket, PathBuf::from("/tmp/s.sock"));
}

#[test]
fn unknown_keys_and_bad_values_are_errors() {
    let (_dir, args) = args_with_config("sever = \"x\"\n");
    let e = Config::resolve(&args).expect_err("unknown key");
    assert!(e.to_string().contains("sever"), "{e}");
    let (_dir, mut args) = args_with_config("");
    args.listen = Some("nope".into());
    assert!(Config::resolve(&args).is_err());
    args.listen = None;
    args.server = Some("no-such-host.invalid".into());
    assert!(Config::resolve(&args).is_err());
    args.server = Some("127.0.0.1:99999".into());
    assert!(Config::resolve(&args).is_err());
    args.server = None;
    args.server_key = Some("not a key".into());
    let e = Config::resolve(&args).expect_err("bad key");
    assert!(e.to_string().contains("--server-key"), "{e}");
}

#[test]
fn a_list_of_servers_is_tried_in_order_without_repeats() {
    let (_dir, mut args) = args_with_config("");
    args.server = Some("127.0.0.1:9001, 127.0.0.2:9002,127.0.0.1:9001,127.0.0.3".into());
    let c = Config::resolve(&args).expect("resolve");
    let got: Vec<(String, String)> = c
        .servers
        .iter()
        .map(|(l, a)| (l.clone(), a.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("127.0.0.1:9001".into(), "127.0.0.1:9001".into()),
            ("127.0.0.2:9002".into(), "127.0.0.2:9002".into()),
            ("127.0.0.3".into(), "127.0.0.3:8080".into()),
        ]
    );
    assert_eq!(c.server, "127.0.0.1:9001".parse().unwrap());
    for bad in ["127.0.0.1:1,", ",127.0.0.1:1", "127.0.0.1:1,,127.0.0.1:2"] {
        args.server = Some(bad.into());
        assert!(Config::resolve(&args).is_err(), "{bad}");
    }
}

#[test]
fn retention_is_a_duration_of_the_file() {
    let (_dir, args) = args_with_config("inbox_retention = \"90d\"\noutbox_retention = \"1.5h\"\n");
    let c = Config::resolve(&args).expect("resolve");
    assert_eq!(
        c.retention.inbox,
        Some(std::time::Duration::from_secs(90 * 86_400))
    );
    assert_eq!(
        c.retention.outbox,
        Some(std::time::Duration::from_secs(5400))
    );
    let (_dir, args) = args_with_config("");
    assert_eq!(
        Config::resolve(&args).expect("resolve").retention,
        Retention::default()
    );
    for bad in [
        "inbox_retention = \"soon\"\n",
        "outbox_retention = \"0s\"\n",
    ] {
        let (_dir, args) = args_with_config(bad);
        let e = Config::resolve(&args).expect_err(bad);
        assert!(e.to_string().contains("_retention"), "{e}");
    }
}

#[test]
fn a_server_without_a_port_means_8080() {
    let (_dir, mut args) = args_with_config("");
    for text in ["127.0.0.1", "localhost", "[::1]", "::1"] {
        args.server = Some(text.into());
        let c = Config::resolve(&args).expect(text);
        assert_eq!(c.server.port(), 8080, "{text}");
    }
}
