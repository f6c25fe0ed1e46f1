-- recvn/recvall/recvall_read: the same buf, buf+len, partials (seed: recvn/recvall).
local sock = require'sock'
local ffi = require'ffi'

local l = assert(sock.tcp())
assert(l:listen('127.0.0.1', 0))
local port = l:local_addr():port()

local function pair(server)
	sock.thread(function()
		local c = assert(l:accept(sock.clock() + 5))
		server(c)
	end)
	local c = assert(sock.tcp())
	assert(c:connect('127.0.0.1', port, sock.clock() + 5))
	return c
end

sock.run(function()
	local c = pair(function(s)
		assert(s:send('0123456789'))
		s:close()
	end)
	local buf = ffi.new'char[16]'
	local b, n = c:recvn(buf, 4, sock.clock() + 5)
	print('recvn', b == buf, n, ffi.string(b, n))
	local b, err, p = c:recvn(buf, 10, sock.clock() + 5)
	print('recvn eof', b, err, p, ffi.string(buf, p))
	c:close()

	local c = pair(function(s)
		assert(s:send('whole body'))
		s:close()
	end)
	local b, len = c:recvall(sock.clock() + 5)
	print('recvall', type(b), len, ffi.string(b, len))
	c:close()

	local c = pair(function(s)
		assert(s:send('partial'))
		sock.sleep(1)
		s:close()
	end)
	local b, err, pb, plen = c:recvall(sock.clock() + 0.5)
	print('recvall timeout', b, err, plen, ffi.string(pb, plen))
	c:close()

	local c = pair(function(s)
		assert(s:send('abcdef'))
		s:close()
	end)
	local read = assert(c:recvall_read(sock.clock() + 5))
	local rb = ffi.new'char[4]'
	local n1 = read(rb, 4); local s1 = ffi.string(rb, n1)
	local n2 = read(rb, 4); local s2 = ffi.string(rb, n2)
	print('recvall_read', s1, s2, read(rb, 4))
	c:close()
end)
l:close()
