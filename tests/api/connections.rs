//! Connections are held to account: a client that sends its header slowly or says
//! nothing is cut, many silent sockets do not lock out a new client, and a shutdown
//! lets the request in flight finish.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{OPERATOR_TOKEN, ServerProcess, TestApp, TestDatabase};

/// Reads until the server closes the connection, or `within` passes; answers how
/// long the close took, or `None` when the connection was still open.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + within),
            stream.read(&mut buffer),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_client_sending_its_header_a_byte_at_a_time_is_cut_at_the_header_timeout() {
    let app = TestApp::spawn_with(|s| {
        s.connections.header_timeout = Duration::from_secs(1);
        s.connections.idle_timeout = Duration::from_secs(30);
    })
    .await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: roster\r\nX-Slow: ";
    let mut cut_after = None;
    for byte in request.iter().chain(b"abcdefghijklmnopqrstuvwxyz".iter()) {
        if slow.write_all(&[*byte]).await.is_err() {
            cut_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cut_after = match cut_after {
        Some(elapsed) => elapsed,
        None => closed_within(&mut slow, Duration::from_secs(5))
            .await
            .map(|_| started.elapsed())
            .expect("the slow client is cut"),
    };
    // The header timer runs from the connection's opening: 1 s, with slack for a
    // busy machine, and well before the 7 s the slow header would have taken.
    assert!(
        cut_after < Duration::from_secs(4),
        "cut after {cut_after:?}"
    );

    let healthz = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout_also_between_requests() {
    let app = TestApp::spawn_with(|s| {
        s.connections.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let closed = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "a connection that never spoke was left open"
    );

    let mut kept_alive = TcpStream::connect(app.addr).await.unwrap();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: roster\r\n\r\n")
        .await
        .unwrap();
    let mut response = vec![0u8; 1024];
    let n = kept_alive.read(&mut response).await.unwrap();
    assert!(String::from_utf8_lossy(&response[..n]).starts_with("HTTP/1.1 200"));
    let closed = closed_within(&mut kept_alive, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "an idle keep-alive connection was left open"
    );
}

#[tokio::test]
async fn a_thousand_silent_sockets_do_not_lock_out_a_new_client() {
    let app = TestApp::spawn().await;
    let mut silent = Vec::with_capacity(1000);
    for _ in 0..1000 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
    }
    let healthz = tokio::time::timeout(
        Duration::from_secs(5),
        app.client.get(app.url("/healthz")).send(),
    )
    .await
    .expect("a new client is served beside 1,000 silent sockets")
    .unwrap();
    assert_eq!(healthz.status(), 200);
}

#[tokio::test]
async fn at_the_connection_cap_new_clients_are_served_once_silent_ones_are_cut() {
    let app = TestApp::spawn_with(|s| {
        s.connections.max_connections = 50;
        s.connections.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let mut silent = Vec::with_capacity(150);
    for _ in 0..150 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // 150 silent sockets against 50 places: three rounds of the 1 s idle timeout.
    let healthz = tokio::time::timeout(
        Duration::from_secs(20),
        app.client.get(app.url("/healthz")).send(),
    )
    .await
    .expect("the new client is served once the silent sockets are cut")
    .unwrap();
    assert_eq!(healthz.status(), 200);
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_and_then_exits() {
    let database = TestDatabase::create().await;
    let mut server = ServerProcess::start(
        &database.url(),
        &[("ROSTER_BOOTSTRAP_TOKEN", OPERATOR_TOKEN)],
    );
    let body = br#"{"name": "Finished after SIGTERM"}"#;
    let mut in_flight = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/tenants HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer {OPERATOR_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(&body[..10]).await.unwrap();
    // The request is in flight once its header is read: wait for the server to be
    // reading the body by asking, on another connection, for something it answers.
    let healthz = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(healthz.status(), 200);

    let pid = server.child.id().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    in_flight.write_all(&body[10..]).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        in_flight.read_to_end(&mut response),
    )
    .await
    .expect("the request in flight is answered")
    .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains("Finished after SIGTERM"));

    let status = tokio::task::spawn_blocking(move || server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "roster exited with {status}");
}
