-- One fixed request: METHOD (default GET), BODY, CONTENT_TYPE, AUTH from the
-- environment. With DELAY_MS, each connection waits that long between
-- requests, which paces the load.
wrk.method = os.getenv("METHOD") or "GET"
wrk.body = os.getenv("BODY")
if wrk.body then
  wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
end
local auth = os.getenv("AUTH")
if auth then wrk.headers["Authorization"] = auth end

local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms then
  function delay() return delay_ms end
end
