//! The bus side of the engine: one NATS connection that reconnects by
//! itself, its two subscriptions, and publishing what the registry's thread
//! queues.

use std::time::Duration;

use async_nats::{ConnectOptions, Event, ServerAddr};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use super::super::db::redact;
use super::super::node::{BusOut, To};
use super::{subjects, FromEngine, Settings};

/// NATS options from a URL: credentials in it become the connection's.
fn bus_options(
    settings: &Settings,
    events: mpsc::Sender<FromEngine>,
) -> Result<(ConnectOptions, ServerAddr), String> {
    let addr: ServerAddr = settings.bus.parse().map_err(|e| format!("{e}"))?;
    let mut options = ConnectOptions::new()
        .name(format!("peerd server {}", settings.node))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .ping_interval(Duration::from_secs(2))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64 * 100).clamp(100, 1000))
        })
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                match event {
                    Event::Connected => {
                        let _ = events.send(FromEngine::BusState(true)).await;
                    }
                    Event::Disconnected => {
                        let _ = events.send(FromEngine::BusState(false)).await;
                    }
                    Event::SlowConsumer(_) => {
                        warn!("cluster bus: messages dropped (slow consumer)")
                    }
                    other => info!("cluster bus: {other}"),
                }
            }
        });
    match (addr.username(), addr.password()) {
        (Some(user), Some(pass)) => {
            options = options.user_and_password(user.to_owned(), pass.to_owned());
        }
        (Some(token), None) => options = options.token(token.to_owned()),
        _ => {}
    }
    Ok((options, addr))
}

pub(super) async fn bus_task(
    settings: Settings,
    mut rx: mpsc::Receiver<BusOut>,
    events: mpsc::Sender<FromEngine>,
) {
    let url = redact(&settings.bus);
    let (options, addr) = match bus_options(&settings, events.clone()) {
        Ok(o) => o,
        Err(e) => return error!("cluster bus {url}: {e}"),
    };
    let client = match options.connect(addr).await {
        Ok(c) => c,
        Err(e) => return error!("cluster bus {url}: {e}"),
    };
    let prefix = subjects(&settings.server_key);
    let all = format!("{prefix}.all");
    let mine = format!("{prefix}.node.{}", settings.node);
    let mut subs = Vec::new();
    for subject in [&all, &mine] {
        match client.subscribe(subject.clone()).await {
            Ok(s) => subs.push(s),
            Err(e) => return error!("cluster bus {url}: cannot subscribe to {subject}: {e}"),
        }
    }
    info!("cluster bus {url}: node {} on {prefix}.*", settings.node);
    let mut incoming = futures_util::stream::select_all(subs);
    use futures_util::StreamExt;
    loop {
        tokio::select! {
            msg = incoming.next() => {
                let Some(msg) = msg else { break };
                if events.send(FromEngine::Bus(msg.payload.to_vec())).await.is_err() {
                    break;
                }
            }
            out = rx.recv() => {
                let Some(out) = out else { break };
                let subject = match &out.to {
                    To::All => all.clone(),
                    To::Node(node) => format!("{prefix}.node.{node}"),
                };
                if let Err(e) = client.publish(subject, out.bytes.into()).await {
                    debug!("cluster bus: not published: {e}");
                }
            }
        }
    }
    let _ = client.flush().await;
}
