//! What the integration tests share: the real receivers.
pub mod receivers;
