-- verifyKey with random keys of a valid shape (bench_ and 25 base58
-- characters, as the seeded keys), none of them in the database: someone
-- spraying guesses. 200,000 of them per thread are formatted in init, as in
-- random_key.lua, and drawn at random; the server keeps nothing of a miss,
-- so a guess again costs it what a new one does.
local alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
local requests = {}

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  local headers = { ["Content-Type"] = "application/json" }
  local chars = {}
  for r = 1, 200000 do
    for i = 1, 25 do
      local n = math.random(#alphabet)
      chars[i] = alphabet:sub(n, n)
    end
    requests[r] = wrk.format("POST", nil, headers, '{"key":"bench_' .. table.concat(chars) .. '"}')
  end
end

function request()
  return requests[math.random(#requests)]
end
