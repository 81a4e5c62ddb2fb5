-- GET of one fixed path (PEERS_PATH): /healthz, or the SCIM discovery document.
-- No request() function: wrk builds the request once and sends it as is.
dofile(os.getenv("PEERS_LUA") .. "/common.lua")

wrk.path = os.getenv("PEERS_PATH")
