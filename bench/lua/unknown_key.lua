-- verifyKey with a fresh random key of a valid shape (bench_ and 25 base58
-- characters, as the seeded keys) for every request: none is in the
-- database, as when someone sprays guesses.
local alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

local headers = { ["Content-Type"] = "application/json" }
local chars = {}

function request()
  for i = 1, 25 do
    local n = math.random(#alphabet)
    chars[i] = alphabet:sub(n, n)
  end
  return wrk.format("POST", nil, headers, '{"key":"bench_' .. table.concat(chars) .. '"}')
end
