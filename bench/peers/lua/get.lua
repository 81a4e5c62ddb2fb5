-- GET /Users/{id}: the seeded users' ids in turn.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

local paths, i
function init(args)
  paths = {}
  for _, id in ipairs(read_lines("ids.txt")) do
    paths[#paths + 1] = base .. "/Users/" .. id
  end
  i = (thread_no * 7919) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
