//! How `peerctl peers` and `peerctl ping` read for people: a table of the
//! path to each known peer (`direct ADDR`, `relayed`, `none`), its round
//! trip, when it was last seen and why it is not direct, and one sentence
//! per ping. `--json` prints the daemon's result object instead
//! (`docs/control.md`).

use peerd_shared::control::{PathKind, PathWord, PeerPathInfo, PingOutcome};

use crate::output::{ms, table};
use crate::when::now_ms;

/// `direct 198.51.100.11:4000`, `relayed`, `none`.
pub fn path_text(p: &PeerPathInfo) -> String {
    match (p.path, &p.addr) {
        (PathWord::Direct, Some(addr)) => format!("direct {addr}"),
        (PathWord::Direct, None) => "direct".into(),
        (PathWord::Relayed, _) => "relayed".into(),
        (PathWord::None, _) => "none".into(),
    }
}

/// `3 s ago`, `2 min ago`, `never`.
fn ago(unix_ms: Option<u64>, now: u64) -> String {
    let Some(t) = unix_ms else {
        return "never".into();
    };
    let secs = now.saturating_sub(t) / 1000;
    match secs {
        0..=119 => format!("{secs} s ago"),
        120..=7199 => format!("{} min ago", secs / 60),
        _ => format!("{} h ago", secs / 3600),
    }
}

/// The `peers` table.
pub fn peers_paths_table(peers: &[PeerPathInfo]) -> String {
    if peers.is_empty() {
        return "no known peers yet (peers appear once you send to them or they to you)".into();
    }
    let now = now_ms();
    let rows = peers
        .iter()
        .map(|p| {
            let why = match (&p.reason, p.state.as_str()) {
                (Some(r), "punching") => format!("{r}; punching again"),
                (Some(r), _) => r.clone(),
                (None, "punching" | "connecting") => p.state.clone(),
                (None, _) => String::new(),
            };
            let why = if p.queued > 0 {
                let q = format!("{} queued", p.queued);
                if why.is_empty() {
                    q
                } else {
                    format!("{why} ({q})")
                }
            } else {
                why
            };
            vec![
                p.id.to_string(),
                path_text(p),
                p.rtt_ms.map_or_else(|| "-".into(), ms),
                ago(p.last_seen_ms, now),
                why,
            ]
        })
        .collect();
    table(&["ID", "PATH", "RTT", "LAST SEEN", "WHY"], rows, None)
}

/// `pong from 2: 0.612 ms (direct 198.51.100.11:4000)`.
pub fn pong_text(p: &PingOutcome) -> String {
    let path = match (p.path, &p.addr) {
        (PathKind::Direct, Some(addr)) => format!("direct {addr}"),
        (PathKind::Direct, None) => "direct".into(),
        (PathKind::Relayed, _) => "relayed through the server".into(),
    };
    format!("pong from {}: {} ({path})", p.to, ms(p.rtt_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerd_shared::PeerId;

    fn info(path: PathWord, addr: Option<&str>, reason: Option<&str>) -> PeerPathInfo {
        PeerPathInfo {
            id: PeerId::new(2).unwrap(),
            path,
            addr: addr.map(str::to_owned),
            state: "relayed".into(),
            rtt_ms: Some(1.25),
            last_seen_ms: Some(now_ms()),
            reason: reason.map(str::to_owned),
            queued: 0,
        }
    }

    #[test]
    fn the_table_names_path_rtt_and_why() {
        let direct = info(PathWord::Direct, Some("198.51.100.11:4000"), None);
        let relayed = info(PathWord::Relayed, None, Some("punch timed out after 3 s"));
        let text = peers_paths_table(&[direct, relayed]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ID  PATH"), "{text}");
        assert!(lines[1].contains("direct 198.51.100.11:4000"), "{text}");
        assert!(lines[1].contains("1.25 ms"), "{text}");
        assert!(lines[1].contains("0 s ago"), "{text}");
        assert!(lines[2].contains("relayed") && lines[2].ends_with("punch timed out after 3 s"));
        assert!(peers_paths_table(&[]).starts_with("no known peers"));
    }

    #[test]
    fn a_pong_names_the_path() {
        let p = PingOutcome {
            to: PeerId::new(3).unwrap(),
            path: PathKind::Relayed,
            addr: None,
            rtt_ms: 1.04,
        };
        assert_eq!(
            pong_text(&p),
            "pong from 3: 1.04 ms (relayed through the server)"
        );
    }
}
