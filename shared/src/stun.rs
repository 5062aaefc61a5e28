//! STUN Binding codec (in progress).
