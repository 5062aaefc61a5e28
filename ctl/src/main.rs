//! `peerctl`: the control CLI of the peer daemon. Not yet implemented.

fn main() {
    eprintln!("peerctl: not implemented yet");
    std::process::exit(1);
}
