-- GET /Users/{id}: the seeded users' ids in turn.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

function init(args)
  rotate("ids.txt", function(id) return base .. "/Users/" .. id end)
end

function request()
  return wrk.format("GET", next_path())
end
