//! Where settings come from: flag > environment variable > config file >
//! default, and a config file with an unknown key is refused with a clear
//! error naming it.

mod peer_support;

use std::process::Stdio;

use peer_support::{daemon_command, wait_for, Ctl, Lab, DEADLINE};
use serde_json::json;

#[test]
fn env_and_config_file_settings_apply_in_order() {
    let lab = Lab::new();
    let server = lab.server();
    let data = lab.path("a");
    // The test helper passes --server and --data-dir as flags; here the
    // socket comes from the file, then is overridden by the environment.
    let file_socket = lab.path("from-file.sock");
    let env_socket = lab.path("from-env.sock");
    let config = lab.path("config.toml");
    std::fs::write(
        &config,
        format!(
            "socket = \"{}\"\nserver = \"127.0.0.1:1\"\n",
            file_socket.display()
        ),
    )
    .expect("write config");

    let mut cmd = daemon_command(server.addr, &data, &[]);
    cmd.env("PEERD_CONFIG", &config);
    let mut child = cmd.spawn().expect("spawn");
    let mut ctl = wait_for("the socket named by the file", DEADLINE, || {
        Ctl::try_connect(&file_socket)
    });
    let st = ctl.request(&json!({"cmd": "status"}));
    // The --server flag beats the file's server.
    assert_eq!(st["result"]["server"], server.addr.to_string(), "{st}");
    let _ = child.kill();
    let _ = child.wait();

    let mut cmd = daemon_command(server.addr, &data, &[]);
    cmd.env("PEERD_CONFIG", &config)
        .env("PEERD_SOCKET", &env_socket);
    let mut child = cmd.spawn().expect("spawn");
    wait_for("the socket named by the environment", DEADLINE, || {
        Ctl::try_connect(&env_socket)
    });
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn unknown_config_keys_are_refused() {
    let lab = Lab::new();
    let config = lab.path("bad.toml");
    std::fs::write(&config, "sever = \"127.0.0.1:9\"\n").expect("write config");
    let out = daemon_command("127.0.0.1:9".parse().expect("addr"), &lab.path("a"), &[])
        .env("PEERD_CONFIG", &config)
        .stderr(Stdio::piped())
        .output()
        .expect("run peerd start");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a configuration error is a usage error"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown field `sever`") && stderr.contains("bad.toml"),
        "{stderr}"
    );
}
