//! `peerctl ping ID [-c N] [-i DURATION]`: the round trip to a peer, like
//! ping(8): one line per answer (or per probe that got none), and after
//! several a summary with the loss and min/avg/max. Ctrl-C stops early and
//! still prints the summary. Exit 0 when at least one probe was answered.

use peerd_shared::control::{Command, ErrorKind, Response};
use tokio::time::MissedTickBehavior;

use crate::cli::PingArgs;
use crate::client::ClientError;
use crate::commands::Ctx;
use crate::failure::{emit, Failure};
use crate::output::{client_error_json, ms};

/// Runs `ping`.
pub async fn run(ctx: &Ctx, args: PingArgs) -> Result<(), Failure> {
    let mut client = ctx.connect().await?;
    let to = args.id;
    if args.count == 1 {
        let response = client
            .request_within(Command::Ping { to }, ctx.limit)
            .await?;
        ctx.print(&response, false);
        return Ok(());
    }
    let mut ticks = tokio::time::interval(args.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut times = Vec::new();
    let mut sent = 0u32;
    while sent < args.count {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut interrupted => break,
        }
        sent += 1;
        let answer = tokio::select! {
            answer = client.request_within(Command::Ping { to }, ctx.limit) => answer,
            _ = &mut interrupted => break,
        };
        match answer {
            Ok(response) => {
                if let Response::Pong(p) = &response {
                    times.push(p.rtt_ms);
                }
                ctx.print(&response, false);
            }
            // No answer this time: say so and go on, like ping(8).
            Err(ClientError::Daemon(e)) if e.code == ErrorKind::Unreachable => {
                let err = ClientError::Daemon(e);
                if ctx.json {
                    emit(&client_error_json(&err));
                } else {
                    emit(&format!("no pong from {to}: {err}"));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !ctx.json {
        emit(&summary(to, sent, &times));
    }
    if times.is_empty() {
        return Err(Failure::printed("unreachable"));
    }
    Ok(())
}

/// `--- peer 2: 3 sent, 3 answered, 0% lost; round trip min/avg/max 0.512/0.601/0.700 ms`.
pub fn summary(to: peerd_shared::PeerId, sent: u32, times: &[f64]) -> String {
    let answered = times.len();
    let lost = if sent == 0 {
        0
    } else {
        100 * (sent as usize - answered.min(sent as usize)) / sent as usize
    };
    let head = format!("--- peer {to}: {sent} sent, {answered} answered, {lost}% lost");
    if answered == 0 {
        return head;
    }
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let max = times.iter().copied().fold(0.0, f64::max);
    let avg = times.iter().sum::<f64>() / answered as f64;
    let num = |t: f64| ms(t).trim_end_matches(" ms").to_string();
    format!(
        "{head}; round trip min/avg/max {}/{}/{} ms",
        num(min),
        num(avg),
        num(max)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_like_ping() {
        let to = peerd_shared::PeerId::new(2).expect("id");
        assert_eq!(
            summary(to, 3, &[0.5123, 0.601, 0.7]),
            "--- peer 2: 3 sent, 3 answered, 0% lost; round trip min/avg/max 0.512/0.604/0.700 ms"
        );
        assert_eq!(
            summary(to, 4, &[]),
            "--- peer 2: 4 sent, 0 answered, 100% lost"
        );
    }
}
