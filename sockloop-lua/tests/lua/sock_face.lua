-- What a sock.lua program sees: return values, value types and error
-- values as the real sock.lua gives them (the expected output was taken
-- from it). Raised errors are strings; the `sock.lua:N:` position they
-- carry is cut off here (the line numbers differ).
local sock = require'sock'
local ffi = require'ffi'

-- sock.lua's FFI declarations exist once sock is loaded.
ffi.cdef'int getsockname(int s, struct sockaddr *addr, int *addrlen);'
local function port_of(s)
	local sa = ffi.new'sockaddr'
	local n = ffi.new('int[1]', ffi.sizeof(sa))
	assert(ffi.C.getsockname(s.s, sa, n) == 0)
	return sa:port(), sa
end
local function raised(f, ...)
	local ok, e = pcall(f, ...)
	return ok, type(e), (tostring(e):gsub('^.-sock%.lua:%d+: ', ''))
end
local buf = ffi.new'char[64]'

print('sizes', ffi.sizeof'struct sockaddr_in', ffi.sizeof'sockaddr' >= 16)
local sa = ffi.new'sockaddr'
sa.family_num = 2
sa.port_bytes[0], sa.port_bytes[1] = 0x1f, 0x90
sa.addr_in.ip_bytes[0], sa.addr_in.ip_bytes[3] = 10, 7
print('sockaddr', sa:family(), sa:port(), sa:addr():tostring(), sa:tostring())
local b, n = sa:addr():tobinary()
print('tobinary', type(b), n, b[0], b[3])


sock.run(function()
	local l = assert(sock.tcp())
	print('setopt', l:setopt('reuseaddr', true))
	print('listen', l:listen('127.0.0.1', 0))
	local port = port_of(l)
	local b2 = assert(sock.tcp())
	print('bind in use', b2:bind('127.0.0.1', port))
	b2:close()

	-- accept gives the socket and the peer's sa.
	local c = assert(sock.tcp())
	sock.thread(function() assert(c:connect('127.0.0.1', port)) end)
	local a, asa = l:accept()
	print('accept', type(a), type(asa), ffi.istype('sockaddr', asa), asa:family(),
		asa:addr():tostring(), asa:port() == port_of(c))
	print('getopt', a:getopt'reuseaddr', a:getopt'error')
	print('timeout', c:recv(buf, 64, sock.clock() + 0.02))
	print('shutdown', a:shutdown'w')
	print('recv eof', c:recv(buf, 64))
	a:close()
	sock.sleep(0.01)
	print('send to a closed peer', c:send'x')
	sock.sleep(0.01)
	print('send again', c:send'x')
	c:close()

	-- recvn short of its length, recvall, recvall_read.
	local function pair(data)
		local c = assert(sock.tcp())
		sock.thread(function()
			assert(c:connect('127.0.0.1', port))
			assert(c:send(data))
			c:close()
		end)
		return (l:accept())
	end
	local s = pair'abc'
	print('recvn short', s:recvn(buf, 10))
	s:close()
	s = pair'hello world'
	local rbuf, rlen = s:recvall()
	print('recvall', type(rbuf), rlen, ffi.string(rbuf, rlen))
	s:close()
	s = pair'hello world'
	local read = s:recvall_read()
	local small = ffi.new'char[5]'
	for _ = 1, 4 do
		local n, err = read(small, 5)
		print('read', n, err, n and ffi.string(small, n))
	end
	s:close()

	-- Connection refused: the OS text (a TCP connect), the name (UDP).
	local dead = assert(sock.tcp())
	assert(dead:bind('127.0.0.1', 0))
	local dport = port_of(dead)
	dead:close()
	local r = assert(sock.tcp())
	print('connect refused', r:connect('127.0.0.1', dport))
	r:close()
	local w = assert(sock.udp())
	print('udp connect', w:connect('127.0.0.1', dport))
	print('udp send', w:send'x')
	print('udp refused', w:recv(buf, 64, sock.clock() + 1))
	w:close()
	l:close()
end)

-- Main-thread rules: what does not wait completes, what would wait
-- raises. (Last: in sock.lua a sleep that raised in the main thread
-- leaves a timer behind that breaks its next start.)
local u = assert(sock.udp())
print('bind', u:bind('127.0.0.1', 0))
local uport = port_of(u)
local v = assert(sock.udp())
print('sendto from main', v:sendto('127.0.0.1', uport, 'dgram'))
local len, from = u:recvnext(buf, 64)
print('recvnext from main', len, ffi.string(buf, len), type(from),
	ffi.istype('sockaddr', from), from:family(), from:addr():tostring())
print('recvnext would wait', raised(u.recvnext, u, buf, 64))
print('sleep', raised(sock.sleep, 0.001))

-- Raised errors are strings.
print('bad option', raised(u.setopt, u, 'no_such_option', 1))
print('close', u:close(), u.s, u:close(), u:closed())
v:close()
