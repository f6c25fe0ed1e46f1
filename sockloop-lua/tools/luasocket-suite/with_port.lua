-- Runs LuaSocket's test/testsrvr.lua on the port given as arg[1] (the
-- server reads the globals `host` and `port`).
port = arg[1]
host = arg[2] or 'localhost'
-- loadfile, not dofile: the server's calls may yield under sockloop-lua.
assert(loadfile('testsrvr.lua'))()
