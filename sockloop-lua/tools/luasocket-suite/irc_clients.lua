-- Two clients of tinyirc: the first sends a line, the second must get it.
local socket = require'socket'
local p1, p2 = tonumber(arg[1]), tonumber(arg[2])
local a = assert(socket.connect('127.0.0.1', p1))
local b = assert(socket.connect('127.0.0.1', p2))
a:settimeout(5); b:settimeout(5)
socket.sleep(0.5) -- both accepted
assert(a:send('hello irc\n'))
print('b got', (b:receive()))
assert(b:send('and back\n'))
print('a got', (a:receive()))
a:close(); b:close()
