//! Turns per key, handed out in arrival order.
//!
//! Slack wants its HTTP request answered within 3 s, so the work behind a request runs in a
//! spawned task. Two replies in one thread, posted a second apart, must still reach the line in
//! the order they were written, and two updates of one announcement must not overtake each other.
//! A plain mutex would not do: spawned tasks reach it in any order. So the request handler takes a
//! [`Turn`] synchronously, in arrival order, and the task waits for it to come up before acting.
//! (Across replicas Slack's own delivery order is all there is; within one, this keeps it.)
//!
//! A turn passes to the next when its [`Turn`] is dropped, whether or not it was waited for, so a
//! task that fails or panics cannot stall the key. Keys with no turn outstanding are forgotten.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

#[derive(Default)]
pub struct Turns {
    keys: Arc<Mutex<HashMap<String, Arc<Queue>>>>,
}

struct Queue {
    state: Mutex<QueueState>,
    serving: watch::Sender<u64>,
}

struct QueueState {
    next: u64,
    /// Turns dropped before they came up: skipped when they do.
    abandoned: BTreeSet<u64>,
}

/// One place in a key's queue. Dropping it passes the turn on.
pub struct Turn {
    keys: Arc<Mutex<HashMap<String, Arc<Queue>>>>,
    key: String,
    queue: Arc<Queue>,
    number: u64,
}

impl Turns {
    /// Takes the next place in `key`'s queue. Call this where the order is known (the request
    /// handler), not in the spawned task.
    pub fn take(&self, key: &str) -> Turn {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let queue = keys
            .entry(key.to_owned())
            .or_insert_with(|| {
                Arc::new(Queue {
                    state: Mutex::new(QueueState {
                        next: 0,
                        abandoned: BTreeSet::new(),
                    }),
                    serving: watch::Sender::new(0),
                })
            })
            .clone();
        let mut state = queue.state.lock().unwrap_or_else(|e| e.into_inner());
        let number = state.next;
        state.next += 1;
        drop(state);
        Turn {
            keys: self.keys.clone(),
            key: key.to_owned(),
            queue,
            number,
        }
    }
}

impl Turn {
    /// Waits until every earlier turn of the key is done.
    pub async fn ready(&self) {
        let mut serving = self.queue.serving.subscribe();
        // The sender lives in `self.queue`, so the channel cannot close while we wait.
        let _ = serving.wait_for(|&s| s >= self.number).await;
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // Lock order everywhere: the key map, then the queue.
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let mut state = self.queue.state.lock().unwrap_or_else(|e| e.into_inner());
        let serving = *self.queue.serving.borrow();
        if serving != self.number {
            state.abandoned.insert(self.number);
            return;
        }
        let mut next = serving + 1;
        while state.abandoned.remove(&next) {
            next += 1;
        }
        self.queue.serving.send_replace(next);
        if next == state.next {
            keys.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn turns_come_up_in_the_order_they_were_taken() {
        let turns = Turns::default();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5u64 {
            let turn = turns.take("thread");
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                // Later turns reach the queue first.
                tokio::time::sleep(Duration::from_millis(50 - i * 10)).await;
                turn.ready().await;
                order.lock().unwrap().push(i);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        assert!(
            turns.keys.lock().unwrap().is_empty(),
            "idle keys are forgotten"
        );
    }

    #[tokio::test]
    async fn an_abandoned_turn_does_not_stall_the_key() {
        let turns = Turns::default();
        let first = turns.take("k");
        let second = turns.take("k");
        let third = turns.take("k");
        drop(second);
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), third.ready())
            .await
            .expect("the third turn comes up");
        let other = turns.take("other");
        other.ready().await;
    }
}
