-- Like LuaSocket's samples/daytimeclnt.lua: one datagram to a daytime
-- server, its answer written out (or the error printed).
local socket = require'socket'
io.stdout:setvbuf('line') -- the test follows the output as it comes
local host = socket.dns.toip(arg[1])
local udp = socket.udp()
udp:setpeername(host, arg[2])
udp:settimeout(3)
local sent, err = udp:send('anything')
if err then print(err) os.exit() end
local dgram
dgram, err = udp:receive()
if not dgram then print(err) os.exit() end
io.write(dgram)
