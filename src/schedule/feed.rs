//! Reading a schedule's iCalendar feed: over HTTP(S) or from a file, never more than
//! [`MAX_FEED_BYTES`], within [`FETCH_TIMEOUT`].

use std::path::Path;
use std::time::Duration;

use crate::config::ScheduleSource;

/// The largest feed read: a year of a busy rota is tens of kilobytes.
pub const MAX_FEED_BYTES: usize = 1024 * 1024;

/// A feed that has not arrived within this is a failed refresh (the last good copy stays).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the feed answered HTTP {0}")]
    Status(u16),
    #[error("the feed could not be fetched: {0}")]
    Http(String),
    #[error("the feed is larger than {MAX_FEED_BYTES} bytes")]
    TooLarge,
    #[error("the feed file cannot be read: {0}")]
    File(String),
    #[error("the feed is not UTF-8 text")]
    NotText,
}

/// Fetches feeds; one per process (its connection pool is shared).
#[derive(Clone)]
pub struct FeedClient {
    http: reqwest::Client,
}

impl FeedClient {
    pub fn new() -> Result<FeedClient, FeedError> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .user_agent(concat!("denwa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FeedError::Http(e.to_string()))?;
        Ok(FeedClient { http })
    }

    /// The feed's text.
    pub async fn fetch(&self, source: &ScheduleSource) -> Result<String, FeedError> {
        let bytes = match source {
            ScheduleSource::Url(url) => self.get(url.clone()).await?,
            ScheduleSource::File(path) => read_file(path).await?,
        };
        String::from_utf8(bytes).map_err(|_| FeedError::NotText)
    }

    async fn get(&self, url: url::Url) -> Result<Vec<u8>, FeedError> {
        let http_error = |e: reqwest::Error| FeedError::Http(e.without_url().to_string());
        let mut response = self.http.get(url).send().await.map_err(http_error)?;
        if !response.status().is_success() {
            return Err(FeedError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_FEED_BYTES as u64)
        {
            return Err(FeedError::TooLarge);
        }
        // Chunk by chunk, so a server that lies about (or omits) its length is still cut off.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > MAX_FEED_BYTES {
                return Err(FeedError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Read on a blocking thread (the runtime has no file I/O of its own here), at most one byte
/// more than the limit, so a huge file is refused without being read.
async fn read_file(path: &Path) -> Result<Vec<u8>, FeedError> {
    let path = path.to_owned();
    let read = tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let file = std::fs::File::open(&path)?;
        let mut body = Vec::new();
        file.take(MAX_FEED_BYTES as u64 + 1)
            .read_to_end(&mut body)?;
        Ok::<_, std::io::Error>(body)
    })
    .await
    .map_err(|e| FeedError::File(e.to_string()))?;
    let body = read.map_err(|e| FeedError::File(e.to_string()))?;
    if body.len() > MAX_FEED_BYTES {
        return Err(FeedError::TooLarge);
    }
    Ok(body)
}
