//! What chat bridges keep in the store: call <-> thread links and delivery ids already seen.

use redis::AsyncCommands as _;

use super::{Store, StoreResult};
use crate::domain::CallId;

/// Links and delivery ids live as long as an ended call's records.
const BRIDGE_TTL_SECS: u64 = 7 * 24 * 3600;

/// Chat services retry for minutes at most; a day is ample to recognise a retry.
const DELIVERY_TTL_SECS: u64 = 24 * 3600;

impl Store {
    /// Links a call and a bridge's thread both ways: two single-key writes (the thread's key
    /// is not in the call's hash slot), sent together. Each is idempotent; a bridge whose link
    /// failed is told so and links again.
    pub async fn link_thread(&self, bridge: &str, id: &CallId, thread: &str) -> StoreResult<()> {
        let (mut to_thread, mut to_call) = (self.conn(), self.conn());
        let ((), ()) = futures::try_join!(
            to_thread.set_ex(
                self.keys.thread_of_call(id, bridge),
                thread,
                BRIDGE_TTL_SECS,
            ),
            to_call.set_ex(
                self.keys.call_of_thread(bridge, thread),
                id.as_str(),
                BRIDGE_TTL_SECS,
            ),
        )?;
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
