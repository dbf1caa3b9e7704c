-- wrk request script: POSTs /start updates to the bot's /webhook, as Telegram would, from
-- BENCH_USERS (default 4000) users. Every update_id is unique: each wrk thread numbers its
-- updates in a range of its own, above BENCH_FIRST_UPDATE_ID.
--
--   wrk -t2 -c40 -d20s --latency -s tests/wrk/start.lua http://127.0.0.1:PORT
--
-- tests/wrk/run.sh starts the Telegram fake and the release bot and runs this for you.

local users = tonumber(os.getenv("BENCH_USERS") or "4000")
local secret = os.getenv("WEBHOOK_SECRET") or "webhook-secret-current"
local first = tonumber(os.getenv("BENCH_FIRST_UPDATE_ID") or "1000000")
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  sent = 0
  wrk.method = "POST"
  wrk.path = "/webhook"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = secret
end

local body = '{"update_id":%d,"message":{"message_id":%d,"date":%d,'
  .. '"chat":{"id":%d,"type":"private","first_name":"Bench"},'
  .. '"from":{"id":%d,"is_bot":false,"first_name":"Bench","language_code":"en"},'
  .. '"text":"/start","entities":[{"type":"bot_command","offset":0,"length":6}]}}'

function request()
  sent = sent + 1
  local update_id = first + thread_index * 100000000 + sent
  local user = 2000000000 + update_id % users
  return wrk.format(nil, nil, nil, string.format(body, update_id, sent, os.time(), user, user))
end
