//! HTTP/1.1 by hand over a raw TCP socket, for the clients a well-behaved library will not be:
//! half-sent heads, bodies larger than they say, bodies that stall.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A connection to the app at `base` (`http://127.0.0.1:port`).
pub async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .expect("the app accepts a connection")
}

/// A request head: the request line and `headers`, with the blank line that ends it.
pub fn head(method_and_path: &str, headers: &[(&str, &str)]) -> String {
    let mut head = format!("{method_and_path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// `data` as one chunk of a chunked body.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\r\n");
    chunk
}

/// Writes `bytes`; a server that has already answered and closed may refuse the rest, which is
/// what some tests expect.
pub async fn send(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes).await;
}

/// A response: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Reads one response (its head and a `Content-Length` body) within `within`, or `None`.
pub async fn answer(stream: &mut TcpStream, within: Duration) -> Option<Answer> {
    tokio::time::timeout(within, read_answer(stream))
        .await
        .ok()
        .flatten()
}

async fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut bytes = Vec::new();
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if read_more(stream, &mut bytes).await == 0 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        if read_more(stream, &mut bytes).await == 0 {
            break;
        }
    }
    let body = String::from_utf8_lossy(&bytes[head_end..]).to_string();
    Some(Answer { status, body })
}

/// Reads what has arrived; 0 when the connection is closed (or reset).
async fn read_more(stream: &mut TcpStream, bytes: &mut Vec<u8>) -> usize {
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap_or(0);
    bytes.extend_from_slice(&buf[..n]);
    n
}

/// Waits up to `within` for the server to close the connection, discarding whatever it sends.
/// True if it closed.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut bytes = Vec::new();
    tokio::time::timeout(within, async {
        while read_more(stream, &mut bytes).await > 0 {}
    })
    .await
    .is_ok()
}
