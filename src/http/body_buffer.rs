//! Buffering a body for the policies that inspect it (request-body and
//! response-body phases), within a byte budget: the buffer never holds more
//! than the budget plus the one frame that crossed it, and a body over the
//! budget is handed on as the buffered prefix followed by the rest of the
//! stream, so nothing is lost and nothing is read twice.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::Body;
use http_body_util::BodyExt;

/// A body read up to a budget.
#[derive(Debug)]
pub struct Buffered<B> {
    /// Everything read (at most `budget` plus one frame).
    pub data: Bytes,
    /// Trailers, when the body ended with them inside the budget.
    pub trailers: Option<HeaderMap>,
    /// The unread rest, when the body did not end inside the budget.
    pub rest: Option<B>,
}

impl<B> Buffered<B> {
    /// Whether the whole body was read.
    pub fn is_complete(&self) -> bool {
        self.rest.is_none()
    }

    /// What the inspecting policy sees: at most `budget` bytes.
    pub fn inspected(&self, budget: usize) -> &[u8] {
        &self.data[..self.data.len().min(budget)]
    }
}

/// Reads `body` until it ends or more than `budget` bytes arrived.
pub async fn buffer<B>(mut body: B, budget: usize) -> Result<Buffered<B>, B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut len = 0usize;
    loop {
        if len > budget {
            return Ok(Buffered {
                data: collected(first, joined),
                trailers: None,
                rest: Some(body),
            });
        }
        let Some(frame) = body.frame().await else {
            return Ok(Buffered {
                data: collected(first, joined),
                trailers: None,
                rest: None,
            });
        };
        let frame = match frame?.into_data() {
            Ok(data) => data,
            Err(frame) => {
                // Trailers end the body.
                return Ok(Buffered {
                    data: collected(first, joined),
                    trailers: frame.into_trailers().ok(),
                    rest: None,
                });
            }
        };
        if frame.is_empty() {
            continue;
        }
        len += frame.len();
        // The common case, one frame, is kept without a copy.
        match (&mut first, &mut joined) {
            (None, None) => first = Some(frame),
            (Some(_), None) => {
                let mut buf = BytesMut::with_capacity(len.min(budget + 1));
                if let Some(f) = first.take() {
                    buf.extend_from_slice(&f);
                }
                buf.extend_from_slice(&frame);
                joined = Some(buf);
            }
            (_, Some(buf)) => buf.extend_from_slice(&frame),
        }
    }
}

fn collected(first: Option<Bytes>, joined: Option<BytesMut>) -> Bytes {
    match (first, joined) {
        (_, Some(buf)) => buf.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn body(chunks: &[&'static str]) -> impl Body<Data = Bytes, Error = std::io::Error> + Unpin {
        let frames: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(http_body::Frame::data(Bytes::from_static(c.as_bytes()))))
            .collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn whole_body_within_budget() {
        let b = buffer(body(&["ab", "cd"]), 10).await.unwrap();
        assert!(b.is_complete());
        assert_eq!(&b.data[..], b"abcd");
    }

    #[tokio::test]
    async fn over_budget_keeps_the_rest_unread() {
        let b = buffer(body(&["abc", "def", "ghi", "jkl"]), 4)
            .await
            .unwrap();
        assert!(!b.is_complete());
        assert_eq!(&b.data[..], b"abcdef");
        assert_eq!(b.inspected(4), b"abcd");
        let rest = b.rest.unwrap().collect().await.unwrap().to_bytes();
        assert_eq!(&rest[..], b"ghijkl");
    }
}
