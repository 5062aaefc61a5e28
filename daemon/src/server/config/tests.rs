use super::*;

fn with_file(text: &str) -> (tempfile::TempDir, ServerArgs) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.toml");
    std::fs::write(&path, text).expect("write config");
    let args = ServerArgs {
        config: Some(path),
        ..ServerArgs::default()
    };
    (dir, args)
}

#[test]
fn file_fills_in_and_flags_win() {
    let (_dir, mut args) = with_file(
        "listen = \"127.0.0.1:9000\"\nkeepalive = 40\nrate_limit = 7\n\
         metrics = \"127.0.0.1:9185\"\nlog_format = \"json\"\nthreads = 2\n",
    );
    let c = ServerConfig::resolve(&args).expect("resolve");
    assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!((c.keepalive, c.rate_limit, c.threads), (40, 7, 2));
    assert_eq!(c.limits().burst_per_source, 14);
    assert_eq!(c.metrics, Some("127.0.0.1:9185".parse().unwrap()));
    assert_eq!(c.log_format, Some(LogFormat::Json));
    assert_eq!(c.replay_cache, DEFAULT_REPLAY_CACHE);
    args.listen = Some("127.0.0.1:0".parse().unwrap());
    args.rate_limit = Some(0);
    let c = ServerConfig::resolve(&args).expect("resolve");
    assert_eq!(c.listen.port(), 0);
    assert_eq!(c.rate_limit, 0);
    assert_eq!(c.keepalive, 40, "the file still fills in the rest");
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let (_dir, args) = with_file("listen = \"127.0.0.1:1\"\nrate-limit = 5\n");
    let e = ServerConfig::resolve(&args)
        .expect_err("unknown key")
        .to_string();
    assert!(e.contains("rate-limit") && e.contains("line 2"), "{e}");
}

#[test]
fn bad_values_are_errors() {
    for (text, word) in [
        ("keepalive = 0\n", "keepalive"),
        ("keepalive = 90000\n", "keepalive"),
        ("replay_cache = 0\n", "replay_cache"),
        ("listen = \"nowhere\"\n", "listen"),
        ("log_format = \"xml\"\n", "xml"),
        ("threads = -1\n", "threads"),
    ] {
        let (_dir, args) = with_file(text);
        let e = ServerConfig::resolve(&args).expect_err(text).to_string();
        assert!(e.contains(word), "{text}: {e}");
    }
}

#[test]
fn explicit_missing_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ServerArgs {
        config: Some(dir.path().join("none.toml")),
        ..ServerArgs::default()
    };
    let e = ServerConfig::resolve(&args)
        .expect_err("missing")
        .to_string();
    assert!(e.contains("none.toml") && e.contains("cannot read"), "{e}");
}

#[test]
fn defaults_without_a_file() {
    let (_dir, args) = with_file("# nothing set\n");
    let c = ServerConfig::resolve(&args).expect("resolve");
    assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
    assert_eq!(c.keepalive, DEFAULT_KEEPALIVE);
    assert_eq!(c.metrics, None);
    assert!(c.db.ends_with(DB_FILE));
}
