-- verifyKey with a key drawn at random from KEYS_FILE for every request.
local keys = {}

function init(args)
  for line in io.lines(os.getenv("KEYS_FILE")) do keys[#keys + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  return wrk.format("POST", nil, headers, '{"key":"' .. keys[math.random(#keys)] .. '"}')
end
