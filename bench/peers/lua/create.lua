-- POST /Users: a new user per request, its userName unique across threads and runs.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/scim+json"

local n = 0
function request()
  n = n + 1
  local name = string.format("c-%s-%d-%d@peers.example", run_id, thread_no, n)
  local body = '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], ' ..
    '"userName": "' .. name .. '", "name": {"givenName": "Created", ' ..
    '"familyName": "User ' .. n .. '"}, "emails": [{"value": "' .. name .. '", ' ..
    '"type": "work", "primary": true}], "active": true}'
  return wrk.format(nil, base .. "/Users", nil, body)
end
