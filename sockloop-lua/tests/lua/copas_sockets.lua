-- Copas' sockets: addserver and its handler, wrapped clients, Copas'
-- per-call timeouts, the values LuaSocket calls give through Copas (the
-- .out file was taken from real Copas 4.11 with LuaSocket).
local copas = require'copas'
local socket = require'socket'

-- The server's lines and the client's are kept apart: when a handler's
-- first steps run against the client's is the loop's business.
local server_log = {}
local function sprint(...)
	local t = {...}
	for i = 1, select('#', ...) do t[i] = tostring(t[i]) end
	server_log[#server_log + 1] = table.concat(t, '\t')
end
local function flush()
	for _, l in ipairs(server_log) do print('  server:', l) end
	server_log = {}
end

local server = assert(socket.bind('127.0.0.1', 0))
local _, port = server:getsockname()

copas.addserver(server, copas.handler(function(skt)
	sprint('handler socket', tostring(skt):match('%(copas wrapped%)$'))
	local line, err = skt:receive()
	sprint('server got line', line, err)
	local n, err2 = skt:receive(5)
	sprint('server got 5', n, err2)
	skt:settimeout(0.05)
	local none, terr, part = skt:receive('*l')
	sprint('server timed out', none, terr, part)
	sprint('server send', skt:send('reply\n'))
	sprint('server send range', skt:send('0123456789', 3, 5))
	local rest, cerr, cpart = skt:receive('*a')
	sprint('server rest', rest, cerr, cpart)
	copas.removeserver(server)
end), 5)

copas.addthread(function()
	local c = copas.wrap(socket.tcp())
	print('settimeouts bad', c:settimeouts('x'))
	print('settimeout bad', c:settimeout({}))
	print('settimeouts ok', c:settimeouts(1, nil, 2))
	print('connect', c:connect('127.0.0.1', port))
	print('send', c:send('hello\nworldpartial'))
	print('got', c:receive())
	print('got range', c:receive(3))
	c:close()
	print('after close', c:receive())
	print('wrapping twice is the same object', copas.wrap(c) == c)
end)

copas.loop()
flush()

-- connect to a closed port through Copas
local probe = socket.bind('127.0.0.1', 0)
local _, closed_port = probe:getsockname()
probe:close()
copas.loop(function()
	local c = copas.wrap(socket.tcp())
	print('refused', c:connect('127.0.0.1', closed_port))
end)

-- raw sockets through copas.send/receive, server timeout from addserver
local s2 = assert(socket.bind('127.0.0.1', 0))
local _, p2 = s2:getsockname()
copas.addserver(s2, function(raw)
	sprint('raw handler', tostring(raw):match('^tcp{client}') ~= nil)
	local l, e, part = copas.receive(raw, '*l')
	sprint('raw timed out by server timeout', l, e, part)
	copas.removeserver(s2)
end, 0.05, 'named server')
copas.addthread(function()
	local c = socket.tcp()
	print('raw connect', copas.connect(c, '127.0.0.1', p2))
	print('raw send', copas.send(c, 'abc'))
	copas.pause(0.2)
	c:close()
end)
copas.loop()
flush()

-- receivepartial: returns what arrived once the time is up
local s3 = assert(socket.bind('127.0.0.1', 0))
local _, p3 = s3:getsockname()
copas.addserver(s3, copas.handler(function(c)
	c:settimeouts(nil, nil, 0.2)
	local t0 = copas.gettime()
	sprint('receivepartial', c:receivepartial('*l'))
	sprint('within its timeout', copas.gettime() - t0 < 0.35)
	copas.removeserver(s3)
end))
copas.addthread(function()
	local c = socket.tcp()
	c:connect('127.0.0.1', p3)
	c:send('ab')
	copas.pause(0.4)
	c:close()
end)
copas.loop()
flush()
print('done')
