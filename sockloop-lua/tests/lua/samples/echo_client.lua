-- Like LuaSocket's samples/echoclnt.lua: a connected UDP object sends
-- each stdin line and prints the echo; an empty line ends it.
local socket = require'socket'
io.stdout:setvbuf('line') -- the test follows the output as it comes
local host = socket.dns.toip(arg[1])
local udp = assert(socket.udp())
assert(udp:setpeername(host, arg[2]))
assert(udp:settimeout(5))
while true do
	local line = io.read()
	if not line or line == '' then os.exit() end
	assert(udp:send(line))
	print(assert(udp:receive()))
end
