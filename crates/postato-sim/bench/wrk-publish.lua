-- wrk script: a publish with a fresh Idempotency-Key per request (per thread, per counter).
-- wrk -t2 -c64 -d10s -s crates/postato-sim/bench/wrk-publish.lua http://127.0.0.1:PORT
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
end

local counter = 0

function request()
  counter = counter + 1
  local key = "wrk-" .. thread_id .. "-" .. counter
  local body = '{"platform":"x","accountId":"acc_1","status":"publish","postType":"post","content":"wrk post ' .. counter .. '"}'
  return wrk.format("POST", "/v1/workspaces/ws_wrk/posts", {
    ["Authorization"] = "Bearer sk_test_postato",
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key,
  }, body)
end
