//! Messages stored by the previous version, a hash per message, moved into their call's
//! messages hash when a script meets them.
//!
//! Why on demand and not at startup: during a rolling upgrade replicas of the previous version
//! still store messages that way, in any call, so no one pass could be the last. Why not read
//! them in place: a script must name every key it touches in KEYS, and it learns the ids of the
//! messages it walks only from the queue, inside the script. So a script that finds such an id
//! stops before writing (`UNMIGRATED <ids>`, see `scripts`), the store moves those messages with
//! their old keys in KEYS, and runs the script again.

use redis::{FromRedisValue, ScriptInvocation};

use super::calls::LIVE_MESSAGES_TTL;
use super::{Store, StoreResult, scripts};
use crate::domain::CallId;

/// How many times a script is run again after moving messages. Once is enough unless a replica
/// of the previous version queued another message in between; a few more cover a busy call, and
/// the bound keeps a script that keeps asking (a bug) from looping.
const MIGRATION_ROUNDS: usize = 3;

/// The error code a script answers with when it met messages of the previous layout.
const UNMIGRATED: &str = "UNMIGRATED";

impl Store {
    /// Runs `invocation`, a script on call `id` that walks its queue or in-flight list, moving
    /// the messages it asks for (see the module's documentation) and running it again.
    pub(super) async fn invoke_on_messages<T: FromRedisValue>(
        &self,
        id: &CallId,
        invocation: &ScriptInvocation<'_>,
    ) -> StoreResult<T> {
        for _ in 0..MIGRATION_ROUNDS {
            match invocation.invoke_async(&mut self.conn()).await {
                Err(e) if e.code() == Some(UNMIGRATED) => {
                    let ids: Vec<&str> = e.detail().unwrap_or_default().split(' ').collect();
                    self.migrate_messages(id, &ids).await?;
                }
                answer => return Ok(answer?),
            }
        }
        Ok(invocation.invoke_async(&mut self.conn()).await?)
    }

    /// Moves messages `ids` of call `id` from their old hashes into the call's messages hash.
    /// The ids are the queue's and the in-flight list's, so at most `speech.max_queued` (and the
    /// line's announcements) of them.
    async fn migrate_messages(&self, id: &CallId, ids: &[&str]) -> StoreResult<()> {
        let mut invocation = scripts::MIGRATE_MESSAGES.prepare_invoke();
        invocation
            .key(self.keys.call(id))
            .key(self.keys.queue(id))
            .key(self.keys.inflight(id))
            .key(self.keys.messages(id))
            .arg(LIVE_MESSAGES_TTL.as_millis() as u64);
        for message in ids.iter().filter(|m| !m.is_empty()) {
            invocation
                .key(self.keys.legacy_message(id, message))
                .arg(*message);
        }
        let moved: u64 = invocation.invoke_async(&mut self.conn()).await?;
        tracing::info!(
            call = %id,
            moved,
            "moved messages stored by the previous version into the call's messages hash"
        );
        Ok(())
    }
}
