//! Scheduled digests (being written).
