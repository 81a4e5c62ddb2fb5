-- GET /Users?filter=userName eq "...": the seeded users' userNames in turn.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

local paths, i
function init(args)
  paths = {}
  for _, name in ipairs(read_lines("names.txt")) do
    paths[#paths + 1] = base .. "/Users?filter=" .. url_encode('userName eq "' .. name .. '"')
  end
  i = (thread_no * 7919) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
