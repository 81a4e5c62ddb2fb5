-- GET /Users?filter=userName eq "...": the seeded users' userNames in turn.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

function init(args)
  rotate("names.txt", function(name)
    return base .. "/Users?filter=" .. url_encode('userName eq "' .. name .. '"')
  end)
end

function request()
  return wrk.format("GET", next_path())
end
