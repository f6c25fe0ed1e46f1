-- socketloop (seeds 000/001): LuaSocket-style async sockets (receive
-- patterns, send ranges, timeouts, server calls), the loop and its
-- threads, call_async, getsocket/setsocket, wrap of a socket or a
-- descriptor; socket.http over them against a local server; last,
-- socketloop's own example (examples/socketloop_example.lua) as it is.
local loop = require'socketloop'
local socket = require'socket'
local http = require'socket.http'
local sock = require'sock'
local ffi = require'ffi'

ffi.cdef[[
int socket(int domain, int type, int protocol);
int close(int fd);
long recv(int fd, void *buf, size_t len, int flags);
]]

print('coro', loop.coro == loop)
print('step, nothing waits', select('#', loop.step(0)))

-- A line server: each line comes back reversed; 'part' gets 'part' and
-- a close without a line end; 'bye' closes.
local server = assert(loop.newserver('127.0.0.1', 0, function(c)
	while true do
		local line = c:receive'*l'
		if not line or line == 'bye' then break end
		if line == 'part' then
			c:send'part'
			break
		end
		assert(c:send(line:reverse() .. '\n'))
	end
	c:close()
end))
local ip, port, family = server:getsockname()
port = tonumber(port) -- (a string in LuaSocket 3.1.0)
print('newserver', ip, port > 0, family)

local function refused_port()
	local t = assert(loop.tcp('127.0.0.1', 0))
	local _, p = t:getsockname()
	t:close()
	return p
end

loop.newthread(function()
	print('current', loop.current() == coroutine.running(), loop.current() ~= nil)
	local c = assert(loop.connect('127.0.0.1', port))
	local pip, pport = c:getpeername()
	print('getpeername', pip, pport == port)
	print('tostring', tostring(c):match'^tcp{client}' ~= nil)

	-- receive patterns and send ranges
	print('send', c:send'hello\n')
	print('receive *l', c:receive'*l')
	print('send i j', c:send('xxabcxx', 3, 5), c:send('\r\n'))
	print('receive n', c:receive(3), c:receive(1) == '\n')
	print('send empty range', c:send('abc', 3, 1))
	print('send negative', c:send('xyz\n', -2))
	print('receive prefix', c:receive(4, 'pre'), c:receive'*l')
	c:send'dlrow\n'
	print('receive prefixed count', c:receive(8, 'hel'), c:receive'*l')
	local ok, err = pcall(c.receive, c, '*x')
	print('bad pattern', ok, tostring(err):match'invalid receive pattern')

	-- timeout: nothing comes; the partial result is empty
	print('settimeout', c:settimeout(0.05))
	print('timeout', c:receive'*l')
	c:settimeout(nil)

	-- call_async: a non-blocking step function on the descriptor
	local buf = ffi.new'char[16]'
	c:send'olleh\n'
	local n = c:call_async(function(fd)
		local r = ffi.C.recv(fd, buf, 16, 0x40) -- MSG_DONTWAIT
		if r < 0 then return nil, 'wantread' end
		return tonumber(r)
	end, c:getfd())
	print('call_async', n, ffi.string(buf, n - 1))
	print('call_async error', c:call_async(function() return nil, 'custom' end))

	-- the peer closes mid-line: nil, 'closed', partial
	c:send'part\n'
	print('closed', c:receive'*l')
	print('close', c:close(), c:closed())
	print('close again', c:close())

	-- refused
	print('connect refused', loop.connect('127.0.0.1', refused_port()))

	-- the server calls on an async socket
	local l = assert(loop.tcp())
	print('bind', l:bind('127.0.0.1', 0))
	print('listen', l:listen(8))
	print('setoption', l:setoption('reuseaddr', true), l:getoption'reuseaddr')
	local _, lport = l:getsockname()
	loop.newthread(function()
		local s = assert(l:accept())
		assert(s:send'from accept\n')
		print('shutdown', s:shutdown'send')
		s:receive'*a'
		s:close()
	end)
	-- a LuaSocket master object, wrapped
	local a = loop.wrap(socket.try(socket.tcp()))
	print('connect method', a:connect('127.0.0.1', lport))
	print('tcp-nodelay', a:setoption('tcp-nodelay', true), a:getoption'tcp_nodelay')
	print('receive *l', a:receive'*l')
	print('receive after FIN', a:receive'*l')
	a:close()
	l:settimeout(0.01)
	print('accept timeout', l:accept())
	l:close()

	-- getsocket / setsocket / .socket
	local x = assert(loop.tcp('127.0.0.1'))
	local s = x:getsocket() -- the LuaSocket object; .socket is sock's
	print('getsocket', tostring(s):match'^tcp{' ~= nil, s:getfd() == x:getfd(),
		x.socket.s == s:getfd(), x.socket:type())
	local other = assert(sock.tcp())
	assert(other:bind('127.0.0.1', 0))
	x:setsocket(other)
	print('setsocket', select(2, x:getsockname()) == other:local_addr():port())
	x:close()

	-- wrap a descriptor made with the FFI: it is taken over
	local fd = ffi.C.socket(2, 1, 0) -- AF_INET, SOCK_STREAM
	local w = loop.wrap(fd)
	print('wrap fd', w:getfd() == fd, w:connect('127.0.0.1', port))
	print('send range', w:send('abc\n', 1, -1), w:receive'*l')
	w:send'bye\n'
	print('receive *a', w:receive'*a')
	w:close()
	local ufd = ffi.C.socket(2, 2, 0) -- a datagram socket is refused
	ok, err = pcall(loop.wrap, ufd)
	print('wrap udp fd', ok, tostring(err):match'not a stream socket')
	ffi.C.close(ufd)
	print('wrap bad fd', (pcall(loop.wrap, -1)))

	-- suspend / resume with values
	local t = loop.newthread(function(arg)
		print('thread arg', arg)
		print('resumed with', loop.suspend())
	end, 'first')
	loop.resume(t, 'second')

	server:close()
end)
loop.start()
print('server closed', server:closed())

-- step and stop from plain code
local done
loop.newthread(function() sock.sleep(0.01); done = true end)
while loop.step(1) do end
print('step', done)
local late
loop.newthread(function() sock.sleep(0.01); loop.stop() end)
loop.newthread(function() sock.sleep(1); late = true end)
loop.start()
print('stopped before the late thread', late)
loop.start()
print('then it finished', late)

-- socket.http over socketloop's sockets (socketloop's example itself runs
-- in tests/runner.rs): a chunked response, the string form of request.
local web = assert(loop.newserver('127.0.0.1', 0, function(c)
	local first = assert(c:receive'*l')
	repeat local line = assert(c:receive'*l') until line == ''
	c:send('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Request: ' .. first
		.. '\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n')
	c:close()
end))
local _, web_port = web:getsockname()

loop.newthread(function()
	local body, code, headers = http.request('http://127.0.0.1:' .. web_port .. '/path?q=1')
	print('http', body, code, headers['x-request'])
	print('http refused', http.request('http://127.0.0.1:' .. refused_port() .. '/'))
	web:close()
end)
loop.start()

-- socketloop's own example, with its local server in place of google.com.
dofile((arg[0]:gsub('tests/lua/socketloop%.lua$', 'examples/socketloop_example.lua')))
