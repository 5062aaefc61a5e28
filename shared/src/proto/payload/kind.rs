//! Kind bytes (the first byte of every payload).

pub const REGISTER: u8 = 0x01;
pub const HELLO: u8 = 0x02;
pub const REGISTERED: u8 = 0x81;
pub const HELLO_ACK: u8 = 0x82;
pub const KEEPALIVE: u8 = 0x10;
pub const LIST: u8 = 0x11;
pub const CONNECT: u8 = 0x12;
pub const UNREGISTER: u8 = 0x13;
pub const RELAY: u8 = 0x14;
pub const KEEPALIVE_ACK: u8 = 0x90;
pub const LIST_ACK: u8 = 0x91;
pub const CONNECT_ACK: u8 = 0x92;
pub const UNREGISTER_ACK: u8 = 0x93;
pub const RELAY_ACK: u8 = 0x94;
pub const INTRO: u8 = 0x98;
pub const RELAYED: u8 = 0x99;
pub const ERROR: u8 = 0x9F;
pub const MESSAGE: u8 = 0x20;
pub const MESSAGE_ACK: u8 = 0x21;
pub const PROBE: u8 = 0x22;
pub const PROBE_ACK: u8 = 0x23;
