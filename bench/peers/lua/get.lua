-- GET /Users/{id}: the seeded users' ids in turn.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

function init(args)
  local paths = {}
  for _, id in ipairs(read_lines("ids.txt")) do
    paths[#paths + 1] = base .. "/Users/" .. id
  end
  rotate(paths)
end

function request()
  return wrk.format("GET", next_path())
end
