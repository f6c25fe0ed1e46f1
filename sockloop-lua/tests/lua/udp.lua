-- UDP: bind, sendto/recvnext, connect/send/recv (seed: UDP).
local sock = require'sock'
local ffi = require'ffi'

sock.run(function()
	local a = assert(sock.udp())
	local b = assert(sock.udp())
	print('type', a:type(), a:protocol())
	assert(a:bind('127.0.0.1', 0))
	assert(b:bind('127.0.0.1', 0))
	local ap, bp = a:local_addr():port(), b:local_addr():port()
	print('sendto', a:sendto('127.0.0.1', bp, 'ping'))
	local buf = ffi.new'char[32]'
	local n, sa = b:recvnext(buf, 32, sock.clock() + 5)
	print('recvnext', n, ffi.string(buf, n), sa:port() == ap)
	print('connect', b:connect('127.0.0.1', ap))
	print('send', b:send('pong'))
	print('send cdata', b:send(ffi.new('char[2]', 'xy'), 2))
	print('recv', a:recv(buf, 32, sock.clock() + 5), ffi.string(buf, 4))
	print('recv2', a:recv(buf, 32, sock.clock() + 5), ffi.string(buf, 2))
	print('empty', b:send(''), a:recv(buf, 32, sock.clock() + 5))
	print('timeout', a:recv(buf, 32, sock.clock() + 0.05))
	a:close(); b:close()
end)
