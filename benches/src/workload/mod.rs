//! The loads the generator can apply; each implements
//! [`crate::engine::Workload`].

pub mod json;
pub mod stun;
