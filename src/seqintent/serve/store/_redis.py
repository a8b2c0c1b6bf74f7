"""The scale-out event store: a Redis server that several service replicas share.

Per user (keys share the hash tag ``{user}``, so a cluster keeps them on one node):

- ``PREFIX:{user}:ev`` sorted set: score = ts (ms), member = 16-digit arrival number + event JSON
  (equal scores sort by member, so events of the same time keep their arrival order);
- ``PREFIX:{user}:ids`` hash: event id → member (the duplicate check);
- ``PREFIX:{user}:trimmed`` hash: event id → ts of events trimmed at the oldest kept time;
- ``PREFIX:{user}:meta`` hash: ``seq``, ``version``, ``engaged``;

and ``PREFIX:totals`` hash: ``users``, ``events``. Each append for a user is one Lua script, so it
is atomic across replicas. Durability is the server's: run it with ``appendonly yes`` and
``appendfsync always`` for "an acknowledged event is on disk" (``everysec`` may lose the last second).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from seqintent._compat import require
from seqintent.errors import ConfigError
from seqintent.schema.columns import Columns
from seqintent.serve.store._base import AppendResult, EventStore, StoreStats, UserHistory, UserState

SEQ_DIGITS = 16

# KEYS: ev, ids, trimmed, meta, totals. ARGV: max_events, then (event_id, ts, body, engaged) per event.
# Returns {accepted, duplicates, too_old, trimmed}.
_APPEND = """
local max = tonumber(ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
local new_user = redis.call('EXISTS', KEYS[4]) == 0
local accepted, duplicates, too_old, trimmed = 0, 0, 0, 0
for i = 2, #ARGV, 4 do
  local eid, ts, body, engaged = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  if redis.call('HEXISTS', KEYS[2], eid) == 1 or redis.call('HEXISTS', KEYS[3], eid) == 1 then
    duplicates = duplicates + 1
  else
    local oldest = nil
    if n >= max then oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) end
    if oldest ~= nil and ts < oldest then
      too_old = too_old + 1
    else
      local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
      local member = string.format('%016d', seq) .. body
      redis.call('ZADD', KEYS[1], ts, member)
      redis.call('HSET', KEYS[2], eid, member)
      redis.call('HINCRBY', KEYS[4], 'version', 1)
      if engaged == '1' then redis.call('HINCRBY', KEYS[4], 'engaged', 1) end
      n = n + 1
      accepted = accepted + 1
      if n > max then
        local gone = redis.call('ZRANGE', KEYS[1], 0, n - max - 1, 'WITHSCORES')
        for j = 1, #gone, 2 do
          local id = cjson.decode(string.sub(gone[j], 17))['event_id']
          redis.call('HDEL', KEYS[2], id)
          redis.call('HSET', KEYS[3], id, gone[j + 1])
        end
        redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1)
        trimmed = trimmed + (n - max)
        n = max
        -- only ids at the oldest kept time can come back without being too old
        local floor = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
        local kept = redis.call('HGETALL', KEYS[3])
        for j = 1, #kept, 2 do
          if tonumber(kept[j + 1]) < floor then redis.call('HDEL', KEYS[3], kept[j]) end
        end
      end
    end
  end
end
if accepted > 0 and new_user then redis.call('HINCRBY', KEYS[5], 'users', 1) end
redis.call('HINCRBY', KEYS[5], 'events', accepted - trimmed)
return {accepted, duplicates, too_old, trimmed}
"""


class RedisEventStore(EventStore):
    """Event store on a Redis server. See the module docstring.

    Parameters
    ----------
    url:
        ``redis://[:password@]host:port[/db][?prefix=NAME]`` (``rediss://`` for TLS). ``prefix``
        (default ``seqintent``) namespaces the keys, so several stores can share one server.
    max_events:
        Events kept per user.
    """

    def __init__(self, url: str, max_events: int = 500) -> None:
        super().__init__(max_events)
        redis = require("redis", "the Redis event store")
        parts = urlsplit(url)
        options = parse_qs(parts.query)
        unknown = sorted(set(options) - {"prefix"})
        if unknown:
            raise ConfigError(
                "unknown option in the Redis store URL", key="store", value=unknown[0], candidates=["prefix"]
            )
        self.prefix = options.get("prefix", ["seqintent"])[0]
        self.url = url
        self._client = redis.Redis.from_url(urlunsplit(parts._replace(query="")), decode_responses=True)
        self._append_script = self._client.register_script(_APPEND)
        self._errors = (redis.RedisError,)

    def _keys(self, user: str) -> list[str]:
        base = f"{self.prefix}:{{{user}}}"
        return [f"{base}:ev", f"{base}:ids", f"{base}:trimmed", f"{base}:meta", f"{self.prefix}:totals"]

    def append(
        self, events: Sequence[Mapping[str, Any]], engaged: Sequence[bool] | None = None
    ) -> AppendResult:
        result = AppendResult()
        by_user: dict[str, list[str]] = {}
        for i, event in enumerate(events):
            user = str(event[Columns.USER])
            body = {k: v for k, v in event.items() if v is not None and k != Columns.USER}
            body[Columns.EVENT_ID] = str(event[Columns.EVENT_ID])
            by_user.setdefault(user, []).extend(
                [
                    body[Columns.EVENT_ID],
                    str(int(event[Columns.TIME])),
                    json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    "1" if engaged is None or engaged[i] else "0",
                ]
            )
        # One script per user keeps each user's update atomic; the pipeline sends them in one round trip.
        pipe = self._client.pipeline(transaction=False)
        users = list(by_user)
        for user in users:
            self._append_script(keys=self._keys(user), args=[self.max_events, *by_user[user]], client=pipe)
        for user, (accepted, duplicates, too_old, trimmed) in zip(users, pipe.execute(), strict=True):
            result.add(AppendResult(accepted, duplicates, too_old, trimmed, {user} if accepted else set()))
        return result

    def history(self, user_id: str, limit: int | None = None) -> UserHistory:
        keys = self._keys(user_id)
        pipe = self._client.pipeline(transaction=True)
        pipe.zrange(keys[0], 0 if limit is None else -max(int(limit), 1), -1)
        pipe.hmget(keys[3], "version", "engaged")
        members, (version, engaged) = pipe.execute()
        events = []
        for member in members:
            event = json.loads(member[SEQ_DIGITS:])
            event[Columns.USER] = user_id
            events.append(event)
        return UserHistory(events, UserState(int(version or 0), int(engaged or 0)))

    def state(self, user_id: str) -> UserState:
        version, engaged = self._client.hmget(self._keys(user_id)[3], "version", "engaged")
        return UserState(int(version or 0), int(engaged or 0))

    def stats(self) -> StoreStats:
        users, events = self._client.hmget(f"{self.prefix}:totals", "users", "events")
        return StoreStats(users=int(users or 0), events=int(events or 0))

    def ping(self) -> None:
        self._client.ping()

    def close(self) -> None:
        self._client.close()
