-- The optional arguments of the sock documentation (seed: sockets):
-- sock.tcp/udp's family and protocol, the `af` getaddrinfo flags of
-- bind/listen/connect/sendto, and recvnext's flags.
local sock = require'sock'
local ffi = require'ffi'

-- A raised error's name, from mlua's error object.
local function raised(f, ...)
	local ok, e = pcall(f, ...)
	return ok, tostring(e):match'invalid_argument' or tostring(e)
end

local t6 = assert(sock.tcp('inet6', 'tcp'))
print('tcp', t6:family(), t6:protocol())
t6:close()
local u = assert(sock.udp('inet', 'udp'))
print('udp', u:family(), u:protocol())
u:close()
print('tcp/udp', raised(sock.tcp, 'inet', 'udp'))
print('unknown af', raised(function() return sock.udp():bind('127.0.0.1', 0, 'nope') end))

sock.run(function()
	local a = assert(sock.udp())
	local b = assert(sock.udp())
	-- af as names or as glibc's AI_* bits (AI_NUMERICHOST = 4).
	print('bind af', a:bind('127.0.0.1', 0, 'numerichost'), b:bind('127.0.0.1', 0, 4))
	local bad = assert(sock.udp())
	local ok, err = bad:bind('localhost', 0, 'numerichost')
	print('bind name numerichost', ok, err)
	bad:close()
	local ap, bp = a:local_addr():port(), b:local_addr():port()
	print('connect af', a:connect('127.0.0.1', bp, sock.clock() + 5, 'numerichost numericserv'))
	print('connect name numerichost', a:connect('localhost', bp, sock.clock() + 5, 'numerichost'))
	print('sendto af', a:sendto('127.0.0.1', bp, 'datagram', nil, sock.clock() + 5, 'numerichost'))

	-- recvnext flags: peek leaves the datagram, trunc gives its full length.
	local buf = ffi.new'char[32]'
	local n, sa = b:recvnext(buf, 32, sock.clock() + 5, 'peek')
	print('peek', n, ffi.string(buf, n), sa:port() == ap)
	n = b:recvnext(buf, 4, sock.clock() + 5, 'trunc')
	print('trunc', n, ffi.string(buf, 4))
	print('taken', b:recvnext(buf, 32, sock.clock() + 0.05))
	assert(a:sendto('127.0.0.1', bp, 'again'))
	print('peek|trunc bits', b:recvnext(buf, 2, sock.clock() + 5, 0x22), ffi.string(buf, 2))
	n = b:recvnext(buf, 32, sock.clock() + 5)
	print('plain', n, ffi.string(buf, n))
	print('bad flags', raised(b.recvnext, b, buf, 32, nil, 'nope'))
	print('bad bits', raised(b.recvnext, b, buf, 32, nil, 1))
	a:close(); b:close()

	-- listen with af, with and without a backlog.
	local l = assert(sock.tcp())
	print('listen af', l:listen('127.0.0.1', 0, 'numerichost'))
	local l2 = assert(sock.tcp())
	print('listen backlog af', l2:listen(8, '127.0.0.1', 0, 'passive numerichost'))
	local l3 = assert(sock.tcp())
	print('listen name numerichost', l3:listen('localhost', 0, 'numerichost'))
	local c = assert(sock.tcp())
	print('tcp connect af', c:connect('127.0.0.1', l:local_addr():port(), sock.clock() + 5, 'numerichost'))
	print('shutdown expires', c:shutdown('w', sock.clock() + 5))
	-- connect's `...`: bind to this local address first.
	local c2 = assert(sock.tcp())
	print('connect from', c2:connect('127.0.0.1', l:local_addr():port(), sock.clock() + 5, nil, '127.0.0.2', 0))
	print('bound to', c2:local_addr():addr():tostring())
	c2:close(); c:close(); l:close(); l2:close(); l3:close()

	print('epoll_fd', sock.epoll_fd())
	print('iocp', sock.iocp())
end)
