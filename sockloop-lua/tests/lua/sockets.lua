-- TCP sockets: listen/accept/connect/send/recv/close, `s.s`, errors
-- (seed: sockets).
local sock = require'sock'
local ffi = require'ffi'

local l = assert(sock.tcp())
print('type', l:type(), l:family(), l:protocol())
print('fd', type(l.s) == 'number' and l.s >= 0)
assert(l:listen('127.0.0.1', 0))
local port = l:local_addr():port()

local accepted
sock.thread(function()
	local c = assert(l:accept(sock.clock() + 5))
	accepted = {c.remote_addr, c.local_port == port, c.remote_port > 0}
	local buf = ffi.new'char[64]'
	while true do
		local n, err = c:recv(buf, 64, sock.clock() + 5)
		if not n then print('server err', err) break end
		if n == 0 then print('server eof') break end
		assert(c:send(buf, n, sock.clock() + 5))
	end
	c:close()
end)

sock.thread(function()
	local c = assert(sock.tcp())
	print('connect', c:connect('127.0.0.1', port, sock.clock() + 5))
	print('send string', c:send('hello', nil, sock.clock() + 5))
	local buf = ffi.new'char[64]'
	local n = c:recv(buf, 64, sock.clock() + 5)
	print('echo', n, ffi.string(buf, n))
	local out = ffi.new('char[3]', 'abc')
	print('send cdata', c:send(out, 3))
	print('send prefix', c:send('xyzw', 2))
	local got = ''
	while #got < 5 do
		local n = assert(c:recv(buf, 64, sock.clock() + 5))
		got = got .. ffi.string(buf, n)
	end
	print('echo2', got)
	print('send empty', c:send(''))
	local t0 = sock.clock()
	local n, err = c:recv(buf, 64, sock.clock() + 0.05)
	print('recv timeout', n, err, sock.clock() - t0 >= 0.04)
	print('close', c:close())
	print('closed', c:closed())
	print('recv after close', c:recv(buf, 64))
end)
sock.start()
print('accepted', unpack(accepted))

-- A refused connection: a port nobody listens on.
local free = assert(sock.tcp())
assert(free:bind('127.0.0.1', 0))
local fport = free:local_addr():port()
free:close()
sock.run(function()
	local c = assert(sock.tcp())
	print('refused', c:connect('127.0.0.1', fport, sock.clock() + 5))
	c:close()
end)
print('user error', pcall(function() return l:recv('not a buffer', 10) end) == false)
l:close()
