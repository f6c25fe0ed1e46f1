-- A UDP daytime server (RFC 867): answers each datagram with the time.
local socket = require'socket'
local u = assert(socket.udp())
assert(u:setsockname('127.0.0.1', tonumber(arg[1])))
while true do
	local _, ip, port = u:receivefrom()
	if ip then u:sendto('daytime from the peer\r\n', ip, port) end
end
