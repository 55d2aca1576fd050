//! The SSE event log on Redis Streams: one stream per topic (`{prefix}.sse.{address}`), fields
//! `n` (name), `d` (data), `p` (the topic's previous id, empty for none). Appending and
//! reading are Lua scripts, so the previous id, the trimming (exact `MAXLEN`, `MINID` by the
//! server's clock for the age) and the live notification are atomic with the `XADD`; the
//! notification goes to the channel `{prefix}.sse` as a JSON array
//! `[topic, id, name, data, prev]`, in the streams' order.

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::log::{EventLog, History, LogId, Logged, Window};
use super::redis::{Redis, unavailable};
use super::{BackplaneError, BoxFuture};

/// KEYS[1] the topic's stream; ARGV: most events, age in ms, name, data, channel, topic.
const APPEND: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prev = ''
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then prev = info[i + 1] end
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'n', ARGV[3], 'd', ARGV[4], 'p', prev)
redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', now - tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[5], cjson.encode({ARGV[6], id, ARGV[3], ARGV[4], prev}))
return id
";

/// KEYS[1] the topic's stream; ARGV: the first id to read (`(id` or `-`), most events, age in
/// ms. Returns the newest id ever added (empty if the stream is gone), then id, name, data,
/// prev of each event held and not older than the age.
const READ: &str = r"
local out = {''}
if redis.call('EXISTS', KEYS[1]) == 0 then return out end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then out[1] = info[i + 1] end
end
local t = redis.call('TIME')
local floor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
for _, e in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])) do
  if tonumber(string.match(e[1], '^(%d+)')) >= floor then
    local f = {}
    for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
    table.insert(out, e[1])
    table.insert(out, f['n'] or '')
    table.insert(out, f['d'] or '')
    table.insert(out, f['p'] or '')
  end
end
return out
";

pub(super) struct RedisLog {
    redis: Redis,
    prefix: String,
    channel: String,
    window: Window,
    append: redis::Script,
    read: redis::Script,
}

impl RedisLog {
    pub(super) fn new(url: &str, prefix: &str, window: Window) -> Result<Self, BackplaneError> {
        Ok(RedisLog {
            redis: Redis::new(url)?,
            prefix: format!("{prefix}.sse."),
            channel: format!("{prefix}.sse"),
            window,
            append: redis::Script::new(APPEND),
            read: redis::Script::new(READ),
        })
    }

    fn age_ms(&self) -> u64 {
        u64::try_from(self.window.age.as_millis())
            .unwrap_or(u64::MAX / 4)
            .max(1)
    }
}

fn prev(text: &str) -> Option<LogId> {
    if text.is_empty() {
        None
    } else {
        LogId::parse(text)
    }
}

fn malformed(what: &str) -> BackplaneError {
    BackplaneError::new(
        super::Failure::Unavailable,
        format!("redis: unexpected {what}"),
    )
}

impl EventLog for RedisLog {
    fn append<'a>(
        &'a self,
        topic: &'a str,
        name: &'a str,
        data: &'a str,
    ) -> BoxFuture<'a, Result<LogId, BackplaneError>> {
        Box::pin(async move {
            let mut conn = self.redis.connection().await?;
            let result = self
                .append
                .key(format!("{}{topic}", self.prefix))
                .arg(self.window.count.max(1))
                .arg(self.age_ms())
                .arg(name)
                .arg(data)
                .arg(&self.channel)
                .arg(topic)
                .invoke_async::<String>(&mut conn)
                .await;
            match result {
                Ok(id) => LogId::parse(&id).ok_or_else(|| malformed("stream id")),
                Err(e) => {
                    self.redis.reset().await;
                    Err(unavailable(e))
                }
            }
        })
    }

    fn read<'a>(
        &'a self,
        topic: &'a str,
        after: Option<LogId>,
    ) -> BoxFuture<'a, Result<History, BackplaneError>> {
        Box::pin(async move {
            let mut conn = self.redis.connection().await?;
            let from = after.map_or_else(|| "-".to_owned(), |a| format!("({}-{}", a.0, a.1));
            let result = self
                .read
                .key(format!("{}{topic}", self.prefix))
                .arg(from)
                .arg(self.window.count.max(1))
                .arg(self.age_ms())
                .invoke_async::<Vec<String>>(&mut conn)
                .await;
            let fields = match result {
                Ok(fields) => fields,
                Err(e) => {
                    self.redis.reset().await;
                    return Err(unavailable(e));
                }
            };
            let (last, rest) = fields.split_first().ok_or_else(|| malformed("answer"))?;
            let mut events = Vec::with_capacity(rest.len() / 4);
            for e in rest.chunks(4) {
                let [id, name, data, p] = e else {
                    return Err(malformed("answer"));
                };
                events.push(Logged {
                    id: LogId::parse(id).ok_or_else(|| malformed("stream id"))?,
                    prev: prev(p),
                    name: name.clone(),
                    data: data.clone(),
                });
            }
            Ok(History {
                events,
                last: prev(last),
            })
        })
    }

    fn follow(
        &self,
    ) -> BoxFuture<'_, Result<BoxStream<'static, (String, Logged)>, BackplaneError>> {
        Box::pin(async move {
            let messages = self
                .redis
                .subscribe(std::slice::from_ref(&self.channel))
                .await?;
            let events = messages.filter_map(|bytes| async move {
                let decoded =
                    serde_json::from_slice::<(String, String, String, String, String)>(&bytes)
                        .ok()
                        .and_then(|(topic, id, name, data, p)| {
                            Some((
                                topic,
                                Logged {
                                    id: LogId::parse(&id)?,
                                    prev: prev(&p),
                                    name,
                                    data,
                                },
                            ))
                        });
                if decoded.is_none() {
                    tracing::warn!(len = bytes.len(), "malformed SSE log notification dropped");
                }
                decoded
            });
            Ok(events.boxed())
        })
    }

    fn text(&self, id: LogId) -> String {
        format!("{}-{}", id.0, id.1)
    }
}
