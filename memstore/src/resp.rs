//! RESP2: replies and their encoding, and the request parser (multibulk and inline).

/// A reply, as RESP2 can say it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
    NilArray,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Status("OK".into())
    }

    pub fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }

    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::Int(n) => line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(b) => {
                line(out, b'$', b.len().to_string().as_bytes());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

/// Writes one line reply; CR and LF inside it would break the framing, so they become spaces
/// (as Redis does for error messages).
fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// Largest bulk argument accepted (Redis's default `proto-max-bulk-len`).
const MAX_BULK: usize = 512 * 1024 * 1024;
/// Largest number of arguments in one request.
const MAX_ARGS: usize = 1024 * 1024;
/// Longest inline request.
const MAX_INLINE: usize = 64 * 1024;

/// A parsed request's arguments and how many input bytes it took.
pub type Parsed = Option<(Vec<Vec<u8>>, usize)>;

/// A request that cannot be parsed: the connection is answered with the error and closed.
#[derive(Debug, PartialEq)]
pub struct ProtocolError(pub String);

/// Parses one request from the front of `buf`. `Ok(None)` means more bytes are needed; on
/// success returns the arguments and how many bytes they took. An empty inline line yields an
/// empty argument list (to be skipped).
pub fn parse(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        return parse_inline(buf);
    }
    let Some((count, mut pos)) = read_line(buf, 1)? else {
        return Ok(None);
    };
    let count = parse_len(count, "invalid multibulk length")?;
    if count > MAX_ARGS as i64 {
        return Err(ProtocolError("invalid multibulk length".into()));
    }
    let mut args = Vec::with_capacity(count.max(0) as usize);
    for _ in 0..count.max(0) {
        if pos >= buf.len() {
            return Ok(None);
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError(format!(
                "expected '$', got '{}'",
                buf[pos] as char
            )));
        }
        let Some((len, next)) = read_line(buf, pos + 1)? else {
            return Ok(None);
        };
        let len = parse_len(len, "invalid bulk length")?;
        if len < 0 || len as usize > MAX_BULK {
            return Err(ProtocolError("invalid bulk length".into()));
        }
        let len = len as usize;
        if buf.len() < next + len + 2 {
            return Ok(None);
        }
        if &buf[next + len..next + len + 2] != b"\r\n" {
            return Err(ProtocolError("invalid bulk length".into()));
        }
        args.push(buf[next..next + len].to_vec());
        pos = next + len + 2;
    }
    Ok(Some((args, pos)))
}

fn parse_len(text: &[u8], what: &str) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| ProtocolError(what.into()))
}

/// The line starting at `from`, without its CRLF, and the position after it.
fn read_line(buf: &[u8], from: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    match buf[from..].windows(2).position(|w| w == b"\r\n") {
        Some(i) => Ok(Some((&buf[from..from + i], from + i + 2))),
        None if buf.len() - from > MAX_INLINE => {
            Err(ProtocolError("too big count or bulk length".into()))
        }
        None => Ok(None),
    }
}

/// `PING\r\n`-style requests, as typed into a terminal: words split on blanks, quotes honoured.
fn parse_inline(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError("too big inline request".into()));
        }
        return Ok(None);
    };
    let mut text = &buf[..end];
    if text.last() == Some(&b'\r') {
        text = &text[..text.len() - 1];
    }
    let args =
        split_words(text).ok_or_else(|| ProtocolError("unbalanced quotes in request".into()))?;
    Ok(Some((args, end + 1)))
}

fn split_words(text: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    while i < text.len() {
        while i < text.len() && text[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= text.len() {
            break;
        }
        let mut word = Vec::new();
        if text[i] == b'"' || text[i] == b'\'' {
            let quote = text[i];
            i += 1;
            loop {
                let &b = text.get(i)?;
                i += 1;
                if b == quote {
                    break;
                }
                if b == b'\\' && quote == b'"' {
                    let &e = text.get(i)?;
                    i += 1;
                    word.push(match e {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        other => other,
                    });
                } else {
                    word.push(b);
                }
            }
        } else {
            while i < text.len() && !text[i].is_ascii_whitespace() {
                word.push(text[i]);
                i += 1;
            }
        }
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multibulk_in_pieces() {
        let full = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        let (args, used) = parse(full).unwrap().unwrap();
        assert_eq!(args, vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(used, full.len());
    }

    #[test]
    fn parses_inline() {
        let (args, used) = parse(b"SET k \"a b\\n\"\r\nrest").unwrap().unwrap();
        assert_eq!(
            args,
            vec![b"SET".to_vec(), b"k".to_vec(), b"a b\n".to_vec()]
        );
        assert_eq!(used, 15);
    }

    #[test]
    fn rejects_bad_lengths() {
        assert!(parse(b"*x\r\n").is_err());
        assert!(parse(b"*1\r\n$-5\r\n").is_err());
        assert!(parse(b"*1\r\n:5\r\n").is_err());
    }

    #[test]
    fn encodes() {
        let mut out = Vec::new();
        Reply::Array(vec![
            Reply::ok(),
            Reply::err("ERR a\nb"),
            Reply::Int(-3),
            Reply::bulk("hi"),
            Reply::Nil,
            Reply::NilArray,
        ])
        .encode(&mut out);
        assert_eq!(
            out,
            b"*6\r\n+OK\r\n-ERR a b\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n"
        );
    }
}
