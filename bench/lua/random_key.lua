-- verifyKey with a key drawn at random from KEYS_FILE for every request.
-- The requests are formatted once, in init: the client shares the cores
-- with the server, and a request built per call (and its garbage) costs it
-- more than the server's answer.
local requests = {}

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(os.getenv("KEYS_FILE")) do
    requests[#requests + 1] = wrk.format("POST", nil, headers, '{"key":"' .. line .. '"}')
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  return requests[math.random(#requests)]
end
