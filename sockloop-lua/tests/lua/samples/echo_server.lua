-- Like LuaSocket's samples/echosrvr.lua: a UDP echo server with a
-- receive timeout; prints its port, echoes arg[1] datagrams, then ends.
local socket = require'socket'
io.stdout:setvbuf('line') -- the test follows the output as it comes
local count = tonumber(arg[1]) or 2
local udp = assert(socket.udp())
assert(udp:setsockname('127.0.0.1', 0))
assert(udp:settimeout(5))
local ip, port = udp:getsockname()
assert(ip, port)
print('port', port)
while count > 0 do
	local dgram, from, fport = udp:receivefrom()
	if dgram then
		print("echoing '" .. dgram .. "'")
		udp:sendto(dgram, from, fport)
		count = count - 1
	else
		print(from)
	end
end
