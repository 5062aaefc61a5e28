//! Where settings come from: flag > environment variable > config file >
//! default, and a config file with an unknown key is refused with a clear
//! error naming it.

mod support;

use peerd_shared::control::{Command, Response};
use support::{poll, Ctl, Launch, Proc, Scratch};

#[test]
fn env_and_config_file_settings_apply_in_order() {
    let tmp = Scratch::new();
    let server = tmp.server();
    let data = tmp.path("a");
    // The test helper passes --server and --data-dir as flags; here the
    // socket comes from the file, then is overridden by the environment.
    let file_socket = tmp.path("from-file.sock");
    let env_socket = tmp.path("from-env.sock");
    let config = tmp.path("config.toml");
    std::fs::write(
        &config,
        format!(
            "socket = \"{}\"\nserver = \"127.0.0.1:1\"\n",
            file_socket.display()
        ),
    )
    .expect("write config");

    let daemon = Launch::new(server.addr, &data)
        .env("PEERD_CONFIG", &config)
        .spawn();
    let mut ctl = poll("the socket named by the file", || {
        Ctl::try_connect(&file_socket).ok()
    });
    let Ok(Response::Status(st)) = ctl.request(Command::Status) else {
        panic!("no status on {}", file_socket.display());
    };
    // The --server flag beats the file's server.
    assert_eq!(st.server, server.addr.to_string(), "{st:?}");
    drop(daemon);

    let _daemon = Launch::new(server.addr, &data)
        .env("PEERD_CONFIG", &config)
        .env("PEERD_SOCKET", &env_socket)
        .spawn();
    poll("the socket named by the environment", || {
        Ctl::try_connect(&env_socket).ok()
    });
}

#[test]
fn unknown_config_keys_are_refused() {
    let tmp = Scratch::new();
    let config = tmp.path("bad.toml");
    std::fs::write(&config, "sever = \"127.0.0.1:9\"\n").expect("write config");
    let out = Proc::run(
        "peerd start with a bad config",
        &mut Launch::new("127.0.0.1:9", &tmp.path("a"))
            .env("PEERD_CONFIG", &config)
            .command(),
    );
    assert_eq!(out.code, Some(2), "a configuration error is a usage error");
    assert!(
        out.stderr.contains("unknown field `sever`") && out.stderr.contains("bad.toml"),
        "{}",
        out.stderr
    );
}
