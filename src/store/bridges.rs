//! What chat bridges keep in the store: call <-> thread links and delivery ids already seen.

use redis::AsyncCommands as _;

use super::{Store, StoreResult};
use crate::domain::CallId;

/// Links and delivery ids live as long as an ended call's records.
const BRIDGE_TTL_SECS: u64 = 7 * 24 * 3600;

/// Chat services retry for minutes at most; a day is ample to recognise a retry.
const DELIVERY_TTL_SECS: u64 = 24 * 3600;

impl Store {
    pub async fn link_thread(&self, bridge: &str, id: &CallId, thread: &str) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        pipe.set_ex(
            self.keys.thread_of_call(id, bridge),
            thread,
            BRIDGE_TTL_SECS,
        )
        .ignore()
        .set_ex(
            self.keys.call_of_thread(bridge, thread),
            id.as_str(),
            BRIDGE_TTL_SECS,
        )
        .ignore();
        pipe.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    pub async fn thread_of_call(&self, bridge: &str, id: &CallId) -> StoreResult<Option<String>> {
        Ok(self
            .conn()
            .get(self.keys.thread_of_call(id, bridge))
            .await?)
    }

    pub async fn call_of_thread(&self, bridge: &str, thread: &str) -> StoreResult<Option<CallId>> {
        let id: Option<String> = self
            .conn()
            .get(self.keys.call_of_thread(bridge, thread))
            .await?;
        Ok(id.and_then(|s| CallId::parse(&s)))
    }

    /// SET NX: true for the first delivery of `delivery_id`, false for its retries.
    pub async fn first_delivery(&self, bridge: &str, delivery_id: &str) -> StoreResult<bool> {
        let first: Option<String> = redis::cmd("SET")
            .arg(self.keys.delivery(bridge, delivery_id))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(DELIVERY_TTL_SECS)
            .query_async(&mut self.conn())
            .await?;
        Ok(first.is_some())
    }
}
