//! Framing of the control socket: one JSON object per line, at most
//! [`MAX_LINE`] bytes, read with tokio-util's [`LinesCodec`]. A line that
//! is too long is skipped up to its newline and reported as
//! [`Line::TooLong`]; a line that is not UTF-8 as [`Line::NotUtf8`]; the
//! client is served on either way.

use futures_util::Stream;
use peerd_shared::control::MAX_LINE;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, LinesCodec, LinesCodecError};

/// One line read from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    TooLong,
    NotUtf8,
}

/// The codec both directions use: lines of at most [`MAX_LINE`] bytes.
pub fn codec() -> LinesCodec {
    LinesCodec::new_with_max_length(MAX_LINE)
}

struct Reader<R> {
    read: R,
    buf: BytesMut,
    codec: LinesCodec,
    eof: bool,
}

fn line(decoded: Result<Option<String>, LinesCodecError>) -> Option<Line> {
    match decoded {
        Ok(Some(text)) => Some(Line::Text(text)),
        Ok(None) => None,
        Err(LinesCodecError::MaxLineLengthExceeded) => Some(Line::TooLong),
        Err(LinesCodecError::Io(_)) => Some(Line::NotUtf8),
    }
}

/// The client's lines until it closes its side (or the read fails).
pub fn lines<R: AsyncRead + Unpin>(read: R) -> impl Stream<Item = Line> {
    let reader = Reader {
        read,
        buf: BytesMut::with_capacity(4096),
        codec: codec(),
        eof: false,
    };
    futures_util::stream::unfold(reader, |mut r| async move {
        loop {
            let decoded = if r.eof {
                r.codec.decode_eof(&mut r.buf)
            } else {
                r.codec.decode(&mut r.buf)
            };
            if let Some(line) = line(decoded) {
                return Some((line, r));
            }
            if r.eof {
                return None;
            }
            match r.read.read_buf(&mut r.buf).await {
                Ok(0) | Err(_) => r.eof = true,
                Ok(_) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn read_all(input: &[u8]) -> Vec<Line> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(lines(input).collect())
    }

    #[test]
    fn lines_are_split_bounded_and_checked() {
        let long = "x".repeat(MAX_LINE + 1);
        let bytes = [
            b"a\r\n".as_slice(),
            long.as_bytes(),
            b"\nb\n\xff\nlast".as_slice(),
        ]
        .concat();
        let got = read_all(&bytes);
        assert_eq!(
            got,
            [
                Line::Text("a".into()),
                Line::TooLong,
                Line::Text("b".into()),
                Line::NotUtf8,
                Line::Text("last".into()),
            ]
        );
        let exact = format!("{}\n", "y".repeat(MAX_LINE));
        assert_eq!(
            read_all(exact.as_bytes()),
            [Line::Text("y".repeat(MAX_LINE))]
        );
    }
}
