//! A bot member of a Moim room on the SFU: the WebSocket signaling (join,
//! our offer of audio then video, the server's offers of the others' tracks)
//! around one [`Peer`].

use crate::peer::{self, Peer};
use crate::stats::{PeerReport, Shared};
use futures_util::{SinkExt, StreamExt};
use shared::{ClientMsg, PROTOCOL_VERSION};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{interval, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ANSWER_WAIT: Duration = Duration::from_secs(20);

pub struct Member {
    stop: oneshot::Sender<()>,
    signaling: JoinHandle<Result<(), String>>,
    peer: Peer,
}

impl Member {
    /// Leaves the room and returns the peer's counts (with the signaling's
    /// error, if it had one).
    pub async fn leave(self) -> PeerReport {
        let _ = self.stop.send(());
        let signaling = self.signaling.await.unwrap_or_else(|e| Err(e.to_string()));
        let mut report = self.peer.stop().await;
        if let (None, Err(e)) = (&report.error, signaling) {
            report.error = Some(format!("signaling: {e}"));
        }
        report
    }
}

/// Joins `room` on the server at `port`, offers audio and video (sending on
/// them if `publisher`), and keeps answering the server's offers until
/// [`Member::leave`].
pub async fn join(
    port: u16,
    room: &str,
    name: &str,
    publisher: Option<u16>,
    shared: Arc<Shared>,
) -> Result<Member, String> {
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (mut ws, _) = timeout(ANSWER_WAIT, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| format!("connect: {e}"))?;
    let join = ClientMsg::Join { version: PROTOCOL_VERSION, room: room.into(), name: name.into(), password: None };
    send(&mut ws, &join).await?;
    let welcome = wait_for(&mut ws, "welcome", &mut Vec::new()).await?;
    if welcome["sfu"].as_bool() != Some(true) {
        return Err(format!("the room is not on the SFU (start the backend with --sfu-from 2): {welcome}"));
    }
    let (peer, offer) = peer::start(std::net::Ipv4Addr::LOCALHOST.into(), publisher, true, shared).await?;
    send(&mut ws, &ClientMsg::SfuOffer { sdp: offer.expect("an offer was asked for") }).await?;
    // The server's offers that come before its answer wait for it.
    let mut early = Vec::new();
    let answer = wait_for(&mut ws, "sfu_answer", &mut early).await?;
    peer.answer(answer["sdp"].as_str().ok_or("sfu_answer without sdp")?.to_owned()).await?;
    for offer in early {
        answer_offer(&mut ws, &peer, &offer).await?;
    }
    let (stop, stopped) = oneshot::channel();
    let cmds = peer.cmds.clone();
    let signaling = tokio::spawn(serve(ws, cmds, stopped));
    Ok(Member { stop, signaling, peer })
}

/// After the first exchange: answers the server's offers, pings, and leaves
/// when told.
async fn serve(
    mut ws: Ws,
    cmds: tokio::sync::mpsc::UnboundedSender<peer::Cmd>,
    mut stopped: oneshot::Receiver<()>,
) -> Result<(), String> {
    let mut ping = interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = &mut stopped => {
                let _ = send(&mut ws, &ClientMsg::Leave).await;
                let _ = ws.close(None).await;
                return Ok(());
            }
            _ = ping.tick() => send(&mut ws, &ClientMsg::Ping).await?,
            frame = ws.next() => {
                let msg = match frame {
                    Some(Ok(Message::Text(text))) => serde_json::from_str::<serde_json::Value>(text.as_str()).unwrap_or_default(),
                    Some(Ok(Message::Close(frame))) => return Err(format!("the server closed: {frame:?}")),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(format!("read: {e}")),
                    None => return Err("the connection ended".into()),
                };
                match msg["type"].as_str() {
                    Some("sfu_offer") => {
                        let sdp = msg["sdp"].as_str().ok_or("sfu_offer without sdp")?.to_owned();
                        let (tx, rx) = oneshot::channel();
                        cmds.send(peer::Cmd::Offer(sdp, tx)).map_err(|_| "the peer stopped")?;
                        let answer = rx.await.map_err(|_| "the peer stopped")??;
                        if std::env::var_os("SFU_BENCH_DEBUG").is_some() {
                            let lines = answer.matches("m=").count();
                            eprintln!("sfu_bench: answer of {} bytes, {lines} m-lines", answer.len());
                        }
                        send(&mut ws, &ClientMsg::SfuAnswer { sdp: answer }).await?;
                    }
                    Some("error") => eprintln!("sfu_bench: the server says {msg}"),
                    _ => {}
                }
            }
        }
    }
}

async fn answer_offer(ws: &mut Ws, peer: &Peer, offer: &serde_json::Value) -> Result<(), String> {
    let sdp = offer["sdp"].as_str().ok_or("sfu_offer without sdp")?.to_owned();
    let answer = peer.offer(sdp).await?;
    send(ws, &ClientMsg::SfuAnswer { sdp: answer }).await
}

async fn send(ws: &mut Ws, msg: &ClientMsg) -> Result<(), String> {
    let text = serde_json::to_string(msg).map_err(|e| e.to_string())?;
    ws.send(Message::text(text)).await.map_err(|e| format!("send: {e}"))
}

/// Reads until a message of type `wanted`; `sfu_offer`s met on the way go to
/// `early`; an `error` fails.
async fn wait_for(ws: &mut Ws, wanted: &str, early: &mut Vec<serde_json::Value>) -> Result<serde_json::Value, String> {
    loop {
        let frame = timeout(ANSWER_WAIT, ws.next()).await.map_err(|_| format!("no {wanted} from the server"))?;
        let text = match frame {
            Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("read: {e}")),
            None => return Err("connection ended".into()),
        };
        let msg: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        match msg["type"].as_str() {
            Some(t) if t == wanted => return Ok(msg),
            Some("sfu_offer") => early.push(msg),
            Some("error") => return Err(format!("the server refused: {text}")),
            _ => {}
        }
    }
}
