//! Room leases and node heartbeats in Redis. A room lives on the node whose
//! id its lease holds; the lease outlives a dead node by at most
//! [`LEASE_MS`], and a node whose heartbeat is gone loses its leases to the
//! first node that claims one.

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};
use shared::RoomName;
use std::time::Duration;

/// A room's lease lasts this long unless renewed.
pub const LEASE_MS: u64 = 10_000;
/// A node's heartbeat lasts this long unless renewed: a node killed is
/// known to be gone within it.
pub const ALIVE_MS: u64 = 6_000;
/// How often a node renews its heartbeat and leases, and checks the nodes
/// it works with.
pub const UPKEEP: Duration = Duration::from_secs(2);

fn room_key(room: &RoomName) -> String {
    format!("moim:room:{room}")
}

fn alive_key(node: &str) -> String {
    format!("moim:alive:{node}")
}

/// Who holds a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Me,
    Node(String),
}

/// Takes `room`'s lease if it is free, or held by a node whose heartbeat is
/// gone (or by this node's id in an earlier run); says who holds it.
pub async fn claim(redis: &mut ConnectionManager, room: &RoomName, me: &str) -> RedisResult<Holder> {
    // One round trip, atomic: read, decide, write.
    let script = Script::new(
        r"local holder = redis.call('GET', KEYS[1])
          if holder == false or holder == ARGV[1]
             or redis.call('EXISTS', 'moim:alive:' .. holder) == 0 then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return ARGV[1]
          end
          return holder",
    );
    let holder: String = script.key(room_key(room)).arg(me).arg(LEASE_MS).invoke_async(redis).await?;
    Ok(if holder == me { Holder::Me } else { Holder::Node(holder) })
}

/// The node holding `room`, if any.
pub async fn holder(redis: &mut ConnectionManager, room: &RoomName) -> RedisResult<Option<String>> {
    redis::cmd("GET").arg(room_key(room)).query_async(redis).await
}

/// Renews the leases this node holds (or takes one back if it lapsed while
/// Redis was away and nobody took it), in one round trip however many:
/// for each room, false if another node holds it now.
pub async fn renew(redis: &mut ConnectionManager, rooms: &[RoomName], me: &str) -> RedisResult<Vec<bool>> {
    if rooms.is_empty() {
        return Ok(vec![]);
    }
    let script = Script::new(
        r"local renewed = {}
          for i, key in ipairs(KEYS) do
            local holder = redis.call('GET', key)
            if holder == false or holder == ARGV[1] then
              redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
              renewed[i] = 1
            else
              renewed[i] = 0
            end
          end
          return renewed",
    );
    let mut invocation = script.prepare_invoke();
    for room in rooms {
        invocation.key(room_key(room));
    }
    let renewed: Vec<i32> = invocation.arg(me).arg(LEASE_MS).invoke_async(redis).await?;
    Ok(renewed.into_iter().map(|r| r == 1).collect())
}

/// Gives a lease up, if this node still holds it.
pub async fn release(redis: &mut ConnectionManager, room: &RoomName, me: &str) -> RedisResult<()> {
    let script = Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
          return 1",
    );
    script.key(room_key(room)).arg(me).invoke_async::<i32>(redis).await.map(drop)
}

/// Says this node is alive (its heartbeat holds its run, so a restart shows).
pub async fn beat(redis: &mut ConnectionManager, me: &str, run: u64) -> RedisResult<()> {
    redis::cmd("SET").arg(alive_key(me)).arg(run).arg("PX").arg(ALIVE_MS).query_async(redis).await
}

/// Whether `node`'s heartbeat is there.
pub async fn alive(redis: &mut ConnectionManager, node: &str) -> RedisResult<bool> {
    redis::cmd("EXISTS").arg(alive_key(node)).query_async(redis).await
}

/// Ends this node's heartbeat at once (it is stopping).
pub async fn stop_beating(redis: &mut ConnectionManager, me: &str) -> RedisResult<()> {
    redis::cmd("DEL").arg(alive_key(me)).query_async(redis).await
}
