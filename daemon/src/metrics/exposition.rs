//! The Prometheus text exposition (format 0.0.4) of a [`Board`], written
//! by `prometheus-client` from a collector that reads the board at scrape
//! time: counters summed over the serving threads, the gauges, the start
//! time and the version.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::counters::{Board, DEFS, GAUGE_DEFS};

/// The `Content-Type` of [`Exposition::render`]'s text.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Renders a board's metrics.
#[derive(Debug)]
pub struct Exposition {
    registry: Registry,
}

impl Exposition {
    /// An exposition of `board`.
    pub fn new(board: Arc<Board>) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(BoardCollector(board)));
        Self { registry }
    }

    /// The metrics now, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(4096);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[derive(Debug)]
struct BoardCollector(Arc<Board>);

impl Collector for BoardCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let board = &self.0;
        let info = ConstGauge::new(1i64);
        let mut m = encoder.encode_descriptor(
            "peerd_build_info",
            "The running peerd's version (value 1)",
            None,
            MetricType::Gauge,
        )?;
        info.encode(m.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?)?;
        let started = board
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        ConstGauge::new(started).encode(encoder.encode_descriptor(
            "peerd_server_start_time_seconds",
            "When the server started, seconds since the Unix epoch",
            None,
            MetricType::Gauge,
        )?)?;
        for (gauge, name, help) in GAUGE_DEFS {
            let value = i64::try_from(board.gauge(gauge)).unwrap_or(i64::MAX);
            ConstGauge::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        let mut rest = &DEFS[..];
        while let Some(first) = rest.first() {
            let n = rest.iter().take_while(|d| d.family == first.family).count();
            let (family, tail) = rest.split_at(n);
            rest = tail;
            let mut m =
                encoder.encode_descriptor(first.family, first.help, None, MetricType::Counter)?;
            match family {
                [one] if one.label.is_none() => {
                    ConstCounter::new(board.total(one.counter)).encode(m)?;
                }
                _ => {
                    for d in family {
                        let label = d.label.expect("members of a family are labelled (tested)");
                        ConstCounter::new(board.total(d.counter))
                            .encode(m.encode_family(&[label])?)?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::counters::{Counter, Counters, Gauge};
    use super::*;

    #[test]
    fn renders_every_family_with_the_published_counts() {
        let board = Board::new(2);
        let p = board.publisher(1);
        let mut c = Counters::default();
        c.add(Counter::RequestList, 3);
        c.add(Counter::ErrorUnauthorized, 2);
        c.add(Counter::RelayedBytes, 640);
        p.publish(&c);
        board.publisher(0).set(Gauge::OnlinePeers, 9);
        let text = Exposition::new(board).render();
        for line in [
            "# TYPE peerd_server_requests_total counter",
            "peerd_server_requests_total{type=\"list\"} 3",
            "peerd_server_requests_total{type=\"keepalive\"} 0",
            "# TYPE peerd_server_handshakes_total counter",
            "# TYPE peerd_server_cookie_replies_total counter",
            "peerd_server_errors_total{code=\"unauthorized\"} 2",
            "peerd_server_relayed_bytes_total 640",
            "peerd_server_online_peers 9",
            "# TYPE peerd_server_stun_answers_total counter",
            &format!(
                "peerd_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert_eq!(
            text.matches("# HELP peerd_server_requests_total").count(),
            1
        );
    }
}
