-- Like LuaSocket's samples/listener.lua: binds (port 0 by default),
-- prints the port, accepts one talker and prints its lines until it
-- closes, then the error ("closed").
local socket = require'socket'
io.stdout:setvbuf('line') -- the test follows the output as it comes
local host, port = arg[1] or '127.0.0.1', arg[2] or 0
local s = assert(socket.bind(host, port))
local i, p = s:getsockname()
assert(i, p)
print('port', p)
local c = assert(s:accept())
local l, e = c:receive()
while not e do
	print(l)
	l, e = c:receive()
end
print(e)
