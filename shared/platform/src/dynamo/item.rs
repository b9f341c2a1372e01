//! Items: typed values to and from DynamoDB attribute maps (serde_dynamo), with their keys, and
//! their place in the due-time index.

use super::expr::{n, s};
use super::keys::{due_pk, shard, Entity, Key, DUE_AT, DUE_PK, ENTITY, PK, SK};
use anyhow::{anyhow, Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub(crate) fn key_item(k: &Key) -> Item {
    HashMap::from([(PK.to_string(), s(&k.pk)), (SK.to_string(), s(&k.sk))])
}

/// The key of a stored item, for error messages and deletes.
pub(crate) fn key_of(item: &Item) -> Key {
    let get = |f: &str| item.get(f).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    Key::new(get(PK), get(SK))
}

pub(crate) fn entity_of(item: &Item) -> Option<&str> {
    item.get(ENTITY).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A value as an item under `key`, named `entity`.
pub(crate) fn to_item_at<T: Serialize>(key: &Key, entity: &str, v: &T) -> Result<Item> {
    let mut item: Item = serde_dynamo::to_item(v).with_context(|| format!("encode {entity} {key:?}"))?;
    item.extend(key_item(key));
    item.insert(ENTITY.into(), s(entity));
    Ok(item)
}

/// An entity as its item.
pub(crate) fn to_item<T: Entity + Serialize>(v: &T) -> Result<Item> {
    to_item_at(&v.key(), T::NAME, v)
}

/// An item as a value; a corrupt item is an error that names its key, never a default.
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    let key = key_of(&item);
    serde_dynamo::from_item(item).map_err(|e| anyhow!("corrupt item {}/{}: {e}", key.pk, key.sk))
}

/// Puts an item into the sparse due-time index at `at`, on its id's shard; `None` takes it out.
pub(crate) fn set_due(item: &mut Item, id: &str, at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => {
            item.insert(DUE_PK.into(), s(due_pk(shard(id))));
            item.insert(DUE_AT.into(), n(at.timestamp()));
        }
        None => {
            item.remove(DUE_PK);
            item.remove(DUE_AT);
        }
    }
}

pub(crate) fn due_at_of(item: &Item) -> Option<i64> {
    item.get(DUE_AT).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}
