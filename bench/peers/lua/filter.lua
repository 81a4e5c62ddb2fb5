-- GET /Users?filter=userName eq "...": the seeded users' userNames in turn.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

function init(args)
  local paths = {}
  for _, name in ipairs(read_lines("names.txt")) do
    paths[#paths + 1] = base .. "/Users?filter=" .. url_encode('userName eq "' .. name .. '"')
  end
  rotate(paths)
end

function request()
  return wrk.format("GET", next_path())
end
