-- wrk script of bench/gateway.sh's "miss" target: every request asks for a
-- topic no request asked before (ids from the base given after "--"), so
-- each one is a true cache miss.
local next_id = 1

function init(args)
  next_id = tonumber(args[1] or "1000000")
end

function request()
  next_id = next_id + 1
  return wrk.format("GET", "/v1/garant/topics/" .. next_id)
end
