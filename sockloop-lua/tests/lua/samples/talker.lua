-- Like LuaSocket's samples/talker.lua: connects, sends each line read
-- from stdin until an empty line or the end.
local socket = require'socket'
io.stdout:setvbuf('line') -- the test follows the output as it comes
local host, port = arg[1], arg[2]
local c = assert(socket.connect(host, port))
local l = io.read()
while l and l ~= '' do
	assert(c:send(l .. '\n'))
	l = io.read()
end
c:close()
