//! Attack suite, slowloris on the first request: the real gateway with a
//! short `head_timeout` must answer a stalled first head with 408 and close,
//! log the reason, and still serve a head that arrives slowly but in time.

mod common;

use std::time::{Duration, Instant};

use common::attack::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const HEAD_TIMEOUT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn stalled_first_head_is_timed_out() {
    let (gw, up) = setup(", head_timeout: 300ms").await;
    for (i, sent) in [&b""[..], b"GET /slow HTTP/1.1\r\nHost: x\r\nX-A: "]
        .into_iter()
        .enumerate()
    {
        let start = Instant::now();
        let mut client = TcpStream::connect(gw.addr("web")).await.unwrap();
        client.write_all(sent).await.unwrap();
        // Panics if the gateway keeps the connection past WAIT.
        let reply = read_to_close(&mut client).await;
        let took = start.elapsed();
        assert!(took >= HEAD_TIMEOUT, "closed early: {took:?}");
        assert!(took < Duration::from_secs(5), "closed late: {took:?}");
        assert_eq!(statuses(&reply), [408], "{reply}");
        // Every refusal leaves an access-log record.
        let lines = gw.wait_access_lines(i + 1);
        let record: serde_json::Value = serde_json::from_str(&lines[i]).unwrap();
        assert_eq!(record["reason"], "head_timeout");
        assert_eq!(record["status"], 408);
    }
    assert_eq!(up.count(), 0);
    assert_healthy(&gw, &up).await;
}

#[tokio::test]
async fn slow_but_timely_head_is_served() {
    let (gw, up) = setup(", head_timeout: 2s").await;
    let head =
        b"GET /trickle HTTP/1.1\r\nHost: x\r\nX-Pad: 0123456789\r\nConnection: close\r\n\r\n";
    let mut client = TcpStream::connect(gw.addr("web")).await.unwrap();
    // About 80 bytes, 8 every 20 ms: ~200 ms in all, well inside 2 s.
    for piece in head.chunks(8) {
        client.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = read_to_close(&mut client).await;
    assert_eq!(statuses(&reply), [200], "{reply}");
    assert_eq!(seen_paths(&up), ["/trickle"]);
    assert_healthy(&gw, &up).await;
}

/// The head deadline runs from accept, also now that a silent connection's
/// HTTP state is only built when its first bytes arrive: a first byte sent
/// late buys no extra time.
#[tokio::test]
async fn late_first_bytes_get_no_extra_time() {
    let (gw, up) = setup(", head_timeout: 1s").await;
    let start = Instant::now();
    let mut client = TcpStream::connect(gw.addr("web")).await.unwrap();
    // Attack pacing (not synchronisation): the first bytes come at 70 % of
    // the deadline, and the head never completes.
    tokio::time::sleep(Duration::from_millis(700)).await;
    client.write_all(b"GET /late HTTP/1.1\r\n").await.unwrap();
    let reply = read_to_close(&mut client).await;
    let took = start.elapsed();
    assert_eq!(statuses(&reply), [408], "{reply}");
    assert!(took >= Duration::from_secs(1), "closed early: {took:?}");
    // A deadline restarted at the first byte would close at 1.7 s.
    assert!(
        took < Duration::from_millis(1600),
        "deadline restarted: {took:?}"
    );
    assert_eq!(up.count(), 0);
}
