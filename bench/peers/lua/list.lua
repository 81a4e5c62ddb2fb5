-- GET /Users?startIndex=N&count=100: every page of the seeded users in turn.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

local pages, i
function init(args)
  local users = #read_lines("ids.txt")
  pages = math.max(1, math.floor(users / 100))
  i = (thread_no * 37) % pages
end

function request()
  i = i % pages + 1
  return wrk.format("GET", string.format("%s/Users?startIndex=%d&count=100", base, (i - 1) * 100 + 1))
end
