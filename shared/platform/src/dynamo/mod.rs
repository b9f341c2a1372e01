//! DynamoDB: keys, typed expressions, items and the counted store. Only `platform` sees it.

pub mod expr;
pub mod item;
pub mod keys;
pub mod store;

pub use keys::{shard_of, Entity, Key};
pub use store::{Cursor, Store, Tag, Write, WriteError};
