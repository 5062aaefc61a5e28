//! The error codes of protocol v2 (section 5.4): a byte on the wire, a
//! snake_case name for people and programs.

use std::fmt;

/// Why the server refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadRequest,
    UnknownType,
    UnsupportedVersion,
    TooLarge,
    Unauthorized,
    UnknownPeer,
    PeerOffline,
    RateLimited,
    Internal,
    /// A code this implementation does not know (received only, never sent).
    Other(u8),
}

impl ErrorCode {
    /// Every code this implementation sends, in wire order.
    pub const ALL: [ErrorCode; 9] = [
        Self::BadRequest,
        Self::UnknownType,
        Self::UnsupportedVersion,
        Self::TooLarge,
        Self::Unauthorized,
        Self::UnknownPeer,
        Self::PeerOffline,
        Self::RateLimited,
        Self::Internal,
    ];

    /// The code byte.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::BadRequest => 1,
            Self::UnknownType => 2,
            Self::UnsupportedVersion => 3,
            Self::TooLarge => 4,
            Self::Unauthorized => 5,
            Self::UnknownPeer => 6,
            Self::PeerOffline => 7,
            Self::RateLimited => 8,
            Self::Internal => 9,
            Self::Other(b) => b,
        }
    }

    /// The code of a byte; unknown bytes are [`ErrorCode::Other`].
    pub fn from_u8(b: u8) -> Self {
        Self::ALL
            .into_iter()
            .find(|c| c.to_u8() == b)
            .unwrap_or(Self::Other(b))
    }

    /// The code's name, as in the specification.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::UnknownType => "unknown_type",
            Self::UnsupportedVersion => "unsupported_version",
            Self::TooLarge => "too_large",
            Self::Unauthorized => "unauthorized",
            Self::UnknownPeer => "unknown_peer",
            Self::PeerOffline => "peer_offline",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::Other(_) => "other",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(b) => write!(f, "error code {b}"),
            c => f.write_str(c.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_kept() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u8(c.to_u8()), c);
        }
        assert_eq!(ErrorCode::from_u8(200), ErrorCode::Other(200));
        assert_eq!(ErrorCode::Other(200).to_string(), "error code 200");
        assert_eq!(ErrorCode::PeerOffline.to_string(), "peer_offline");
    }
}
