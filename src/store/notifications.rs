//! Listening to a PostgreSQL `NOTIFY` channel whose payloads are JSON: job progress, access
//! changes. Notifications are delivered at commit to every listening process, whichever
//! process made the change.

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use super::error::StoreError;

/// A subscription to one channel, reading each payload as a `T`.
pub struct Notifications<T> {
    listener: PgListener,
    channel: &'static str,
    payload: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Notifications<T> {
    pub async fn listen(pool: &PgPool, channel: &'static str) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(channel).await?;
        Ok(Notifications {
            listener,
            channel,
            payload: PhantomData,
        })
    }

    /// The next payload (unreadable ones, which this build does not send, are skipped).
    pub async fn next(&mut self) -> Result<T, StoreError> {
        loop {
            let notification = self.listener.recv().await?;
            match serde_json::from_str(notification.payload()) {
                Ok(payload) => return Ok(payload),
                Err(error) => {
                    tracing::warn!(%error, channel = self.channel, "unreadable notification skipped")
                }
            }
        }
    }
}

/// Hands every payload of `channel` to `each` until the process ends, listening again after
/// a lost connection; `lost` is told first, since payloads may have been missed meanwhile.
pub async fn follow<T: DeserializeOwned>(
    pool: &PgPool,
    channel: &'static str,
    mut each: impl FnMut(T),
    mut lost: impl FnMut(),
) {
    loop {
        match Notifications::<T>::listen(pool, channel).await {
            Ok(mut notifications) => loop {
                match notifications.next().await {
                    Ok(payload) => each(payload),
                    Err(error) => {
                        tracing::warn!(%error, channel, "notification listener lost; reconnecting");
                        break;
                    }
                }
            },
            Err(error) => tracing::warn!(%error, channel, "notification listener failed; retrying"),
        }
        lost();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
