//! A desynchronised connection: a broken proxy that sends an answer nobody asked for on a
//! kept-open connection. The client must never take it for the answer to a later request:
//! every post the client calls published reached the server.
use postato::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::post;

/// Reads one request (head and `Content-Length` body) from `stream`: its `Idempotency-Key`;
/// none at the connection's end.
async fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_lowercase();
            let header = |name: &str| head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()));
            let length = header("content-length:").map_or(0, |v| v.parse::<usize>().unwrap());
            if pending.len() >= end + 4 + length {
                pending.drain(..end + 4 + length);
                return Some(header("idempotency-key:").unwrap_or_default());
            }
        }
        let mut buffer = [0u8; 16 * 1024];
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&buffer[..n]),
        }
    }
}

/// A 201 for the request keyed `key`, echoing the key (`echo`) as the API does.
fn answer(id: &str, key: &str, echo: bool) -> Vec<u8> {
    let body = format!(r#"{{"id":"{id}","status":"published"}}"#);
    let echoed = if echo { format!("Idempotency-Key: {key}\r\n") } else { String::new() };
    format!("HTTP/1.1 201 Created\r\n{echoed}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// A server that answers each request, then `stray_after` later sends a stray answer on the
/// same connection (a broken proxy): the same answer again, or (`keyless`) a 201 of its own
/// without the key; with no `stray_after`, in the same write as the answer. The id it gave
/// each idempotency key.
async fn desynchronising_server(
    stray_after: Duration,
    echo: bool,
    keyless: bool,
) -> (String, Arc<Mutex<HashMap<String, String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let ids = Arc::new(Mutex::new(HashMap::new()));
    let given = Arc::clone(&ids);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let given = Arc::clone(&given);
            tokio::spawn(async move {
                let mut pending = Vec::new();
                while let Some(key) = read_request(&mut stream, &mut pending).await {
                    let id = {
                        let mut given = given.lock().unwrap();
                        let next = format!("post_{}", given.len());
                        given.entry(key.clone()).or_insert(next).clone()
                    };
                    let bytes = answer(&id, &key, echo);
                    let stray = if keyless { answer("post_forged", &key, false) } else { bytes.clone() };
                    let written = if stray_after.is_zero() {
                        stream.write_all(&[bytes, stray].concat()).await
                    } else {
                        match stream.write_all(&bytes).await {
                            Ok(()) => {
                                tokio::time::sleep(stray_after).await;
                                stream.write_all(&stray).await
                            }
                            Err(e) => Err(e),
                        }
                    };
                    if written.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, ids)
}

/// Publishes ten posts one after another, `pause` after each answer; the id the client
/// returned for each key beside the id the server gave it (none if it never saw it).
async fn publish_ten(
    stray_after: Duration,
    pause: Duration,
    echo: bool,
    keyless: bool,
) -> Vec<(String, Option<String>)> {
    let (url, ids) = desynchronising_server(stray_after, echo, keyless).await;
    let client =
        Client::builder().api_key("k").workspace_id("w").base_url(&url).fast_forward_waits(true).build().unwrap();
    let mut returned = Vec::new();
    for i in 0..10 {
        let post = post(&format!("desync-{i}"));
        let published = client.publish(&post).await.unwrap();
        returned.push((idempotency_key(&post.business_key), published.id));
        tokio::time::sleep(pause).await;
    }
    let ids = ids.lock().unwrap();
    returned.into_iter().map(|(key, id)| (id, ids.get(&key).cloned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_answer_is_never_taken_for_the_answer_to_a_later_request() {
    let ms = Duration::from_millis;
    // Sent in the same write as the real one, or while the connection is idle (5 ms after,
    // the next publish 200 ms later, a margin no loaded machine closes): hyper discards the
    // connection, whether or not the server echoes keys. Sent after the next request went:
    // the echoed Idempotency-Key tells it apart, or its absence where the server echoes them.
    // (A server that echoes nothing and a stray racing the next request: no client can tell.)
    for (stray_after, pause, echo, keyless) in [
        (ms(0), ms(0), false, false),
        (ms(5), ms(200), false, false),
        (ms(5), ms(0), true, false),
        (ms(5), ms(0), true, true),
    ] {
        for (returned, given) in publish_ten(stray_after, pause, echo, keyless).await {
            let case = format!("a stray answer {stray_after:?} after, {pause:?} pause, echo {echo}, keyless {keyless}");
            assert_eq!(Some(&returned), given.as_ref(), "{case}");
        }
    }
}
