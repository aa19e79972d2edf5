//! The floor for the relay benchmark: the least a WebSocket relay can do on
//! this machine with the same stack as Moim (tokio, tungstenite). It speaks
//! just enough of Moim's protocol for the load generator (`join` is answered
//! with a `welcome` naming the member already there; every later text frame
//! goes, untouched, to the other member of the room) and nothing else: no
//! parsing past the join, no sender stamping, no limits, no hub task.
//!
//! `cargo xtask bench relay` runs it as a third server; alone:
//! `target/release/floor` prints `Floor is running at http://localhost:PORT`.

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex as AsyncMutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Sink = Arc<AsyncMutex<SplitSink<WebSocketStream<TcpStream>, Message>>>;

/// Room name → its members (id and socket), at most two.
#[derive(Default)]
struct Rooms(Mutex<HashMap<String, Vec<(u64, Sink)>>>);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("Floor is running at http://localhost:{}", listener.local_addr()?.port());
    let rooms = Arc::new(Rooms::default());
    let mut next_id = 0u64;
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        next_id += 1;
        tokio::spawn(member(tcp, next_id, rooms.clone()));
    }
}

async fn member(tcp: TcpStream, id: u64, rooms: Arc<Rooms>) {
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
    let (sink, mut stream) = ws.split();
    let sink: Sink = Arc::new(AsyncMutex::new(sink));
    let mut room: Option<String> = None;
    let mut partner: Option<Sink> = None;
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else { continue };
        match &room {
            None => {
                let Ok(join) = serde_json::from_str::<serde_json::Value>(&text) else { return };
                let name = join["room"].as_str().unwrap_or_default().to_owned();
                let peers: Vec<serde_json::Value> = {
                    let mut rooms = rooms.0.lock().unwrap();
                    let members = rooms.entry(name.clone()).or_default();
                    let peers = members.iter().map(|(id, _)| serde_json::json!({ "id": id })).collect();
                    members.push((id, sink.clone()));
                    peers
                };
                let welcome = serde_json::json!({ "type": "welcome", "you": id, "peers": peers });
                if sink.lock().await.send(Message::text(welcome.to_string())).await.is_err() {
                    break;
                }
                room = Some(name);
            }
            Some(name) => {
                if partner.is_none() {
                    let rooms = rooms.0.lock().unwrap();
                    partner =
                        rooms.get(name).and_then(|m| m.iter().find(|(other, _)| *other != id)).map(|(_, s)| s.clone());
                }
                if let Some(partner) = &partner {
                    let _ = partner.lock().await.send(Message::Text(text)).await;
                }
            }
        }
    }
    if let Some(name) = room {
        let mut rooms = rooms.0.lock().unwrap();
        if let Some(members) = rooms.get_mut(&name) {
            members.retain(|(other, _)| *other != id);
            if members.is_empty() {
                rooms.remove(&name);
            }
        }
    }
}
