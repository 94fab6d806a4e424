//! The server's own cryptography: the at-rest layer over secrets it must keep (SPEC §6),
//! the internal key's life cycle, and the hashing of bearer tokens.

pub mod at_rest;
pub mod internal_key;
pub mod sealed_columns;
pub mod tokens;

pub use at_rest::AtRest;
pub use internal_key::InternalKey;
