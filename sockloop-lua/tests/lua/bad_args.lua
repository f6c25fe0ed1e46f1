-- Every call of require'sock' and require'socketloop' with pairs of bad
-- arguments (wrong types, NaN, huge and negative numbers, odd strings,
-- cdata): each must raise or return `nil, err`, never panic in Rust, abort
-- the process or block past its deadline. Run by tests/runner.rs.
local sock = require'sock'
local ffi = require'ffi'
-- Hosts: nothing that sends a name to the resolver or names an address
-- off this machine (Lua numbers become strings: 65536 is 0.1.0.0, -1 a
-- name), so the host arguments come from their own list.
local bads = {nil, true, -1, 1e300, 0/0, -1/0, '', {}, function() end, ffi.new'char[1]', 2^53, -0.5, 65536, '0', '-1'}
local hosts = {nil, true, '', {}, function() end, ffi.new'char[1]', '0', '127.0.0.1', '::1', '[::1]'}
local count = 0
-- (`#` is no length for a list that starts with nil: the counts.)
local NBADS, NHOSTS = 15, 10
-- `f(a, b)` for every `a` of the `na` first of `as` and `b` of `bs`'s `nb`.
local function grid(as, na, bs, nb, f)
	for i = 1, na do
		for j = 1, nb do
			count = count + 1
			pcall(f, as[i], bs[j])
		end
	end
end
local function pairs_of(as, na, f) grid(as, na, bads, NBADS, f) end
local function each(f) pairs_of(bads, NBADS, f) end
local function each_host(f) pairs_of(hosts, NHOSTS, f) end
sock.run(function()
	each_host(function(a, b) return sock.addr(a, b) end)
	each(function(a, b) return sock.tcp(a, b) end)
	each(function(a, b) return sock.udp(a, b) end)
	each(function(a, b) return sock.raw(a, b) end)
	local s = assert(sock.tcp())
	each_host(function(a, b) return s:bind(a, b) end)
	each(function(a, b) return s:setopt(a, b) end)
	each(function(a, b) return s:getopt(a, b) end)
	each(function(a, b) return s:shutdown(a, b) end)
	each_host(function(a, b) return s:connect(a, b, sock.clock() + 0.01) end)
	each(function(a, b) return s:connect('127.0.0.1', 1, a, b) end)
	local u = assert(sock.udp())
	each_host(function(a, b) return u:sendto(a, b, 'x', 1) end)
	each(function(a, b) return u:recvnext(ffi.new'char[8]', a, sock.clock()+0.005, b) end)
	each(function(a, b) return u:recvnext(a, 8, sock.clock()+0.005, b) end)
	each(function(a, b) return u:send(a, b) end)
	each(function(a, b) return u:recv(ffi.new'char[8]', a, sock.clock()+0.005) end)
	local l = assert(sock.tcp())
	each_host(function(a, b) return l:listen(a, b) end)
	each(function(a, b) return sock.sleep(a and 0 or 0) end)
	-- (Cancelled at once: a timer whose function is not callable fails
	-- when it fires, and that error would go to the main thread.)
	local function cancelled(t) if type(t) == 'table' then t:cancel() end end
	each(function(a, b) cancelled(sock.runafter(a, b)) end)
	each(function(a, b) cancelled(sock.runat(a, b)) end)
	each(function(a, b) cancelled(sock.runevery(a, b)) end)
	each(function(a, b) return sock.resume(a, b) end)
	each(function(a, b) return sock.transfer(a, b) end)
	each(function(a, b) return sock.newthread(a, b) end)
	each(function(a, b) return sock.threadenv(a, b) end)
	each(function(a, b) return sock.onthreadfinish(a, b) end)
	each(function(a, b) return sock.sleep_job(a, b) end)
	local sj = sock.sleep_job()
	each(function(a, b) return sj:wakeup(a, b) end)
	each(function(a, b) return sock.cancel(a, b) end)
	each(function(a, b) return sock.cowrap(a, b) end)
	-- FFI buffers (recv, recvn, recvnext, send, sendto) on connected
	-- sockets: a length the buffer cannot hold, a bad type, NULL, a
	-- length that is no length: an error, never an access outside the
	-- buffer. A pointer (`buf + k`) has no size, so its length is trusted
	-- as sock.lua trusts it: pointers get only lengths that are checked.
	local srv = assert(sock.tcp())
	assert(srv:listen('127.0.0.1', 0))
	local c = assert(sock.tcp())
	assert(c:connect('127.0.0.1', srv:local_addr():port()))
	local a = assert(srv:accept())
	local u2 = assert(sock.udp())
	assert(u2:bind('127.0.0.1', 0))
	local uport = u2:local_addr():port()
	local arr = ffi.new'char[8]'
	local bufs = {nil, 'string', {}, arr, ffi.new('char[?]', 4), ffi.new'int[2]',
		ffi.cast('char*', nil), 1LL, ffi.new'struct { char x[4]; }'.x, ffi.new'struct { int y; }'}
	local lens = {nil, -1, 0.5, 9, 2^53, 1e300, 0/0, -1/0, '4', true, 8, 0, {}}
	-- (Each with room for the largest valid length of `plens`, 6.)
	local ptrs = {arr + 2, ffi.cast('uint8_t*', arr), ffi.cast('void*', arr), ffi.cast('char*', arr) + 1}
	local plens = {nil, -1, 0.5, 0/0, -1/0, 1/0, '4', true, 0, 6, {}, 2^64}
	local NBUFS, NLENS, NPTRS, NPLENS = 10, 13, 4, 12
	local function soon() return sock.clock() + 0.002 end
	local each_buf = grid
	for _, list in ipairs{{bufs, NBUFS, lens, NLENS}, {ptrs, NPTRS, plens, NPLENS}} do
		local bs, nb, ls, nl = unpack(list)
		each_buf(bs, nb, ls, nl, function(b, n) return c:send(b, n, soon()) end)
		each_buf(bs, nb, ls, nl, function(b, n) return a:recv(b, n, soon()) end)
		each_buf(bs, nb, ls, nl, function(b, n) return a:recvn(b, n, soon()) end)
		each_buf(bs, nb, ls, nl, function(b, n) return u2:sendto('127.0.0.1', uport, b, n, soon()) end)
		each_buf(bs, nb, ls, nl, function(b, n) return u2:recvnext(b, n, soon()) end)
	end
	-- The same calls outside a thread's own coroutine (a plain coroutine):
	-- they complete at once or raise, never wait.
	coroutine.wrap(function()
		each_buf(bufs, NBUFS, lens, NLENS, function(b, n) return a:recv(b, n, soon()) end)
		each_buf(bufs, NBUFS, lens, NLENS, function(b, n) return c:send(b, n, soon()) end)
	end)()
	a:close(); c:close(); srv:close(); u2:close()
	s:close(); u:close(); l:close()
	print('calls', count)
local sl = require'socketloop'
	each_host(function(a, b) return sl.tcp(a, b) end)
	each(function(a, b) return sl.wrap(a, b) end)
	each_host(function(a, b) return sl.connect(a, b) end)
	each_host(function(a, b) return sl.newserver(a, b, function() end) end)
	each(function(a, b) return sl.resume(a, b) end)
	each(function(a, b) return sl.step(a, b) end)
	print('done', count)
	io.stdout:flush()
	os.exit(0)
	end)
