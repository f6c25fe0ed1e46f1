-- sock.lua on sockloop: the Lua half of require'sock'. The Rust half
-- (`core`, passed as this chunk's argument) does the I/O and scheduling;
-- this file keeps sock.lua's calling conventions: FFI buffers (`buf, len`),
-- `nil, err[, partial]` returns, socket objects with `s.s` and fields.
local core = ...
local ffi = require'ffi'

local sock = {}
local unpack = unpack or table.unpack
local function pack(...) return {n = select('#', ...), ...} end

sock.clock = core.clock
sock.addr = core.addr

-- ===== sockets =====

local tcp = {}; tcp.__index = tcp
local udp = {}; udp.__index = udp
local raw = {}; raw.__index = raw
sock.tcp_class = tcp
sock.udp_class = udp
sock.raw_class = raw
local classes = {tcp = tcp, udp = udp, raw = raw}

local function wrap(h)
	return setmetatable({_h = h, s = h:fd()}, classes[h:type()])
end
sock._wrap = wrap

-- ip:tobinary()'s cdata from the address bytes.
function sock._tobinary(s)
	local b = ffi.new('uint8_t[?]', #s)
	ffi.copy(b, s, #s)
	return b, #s
end

function sock.tcp(family, protocol) return core.tcp(family, protocol) end
function sock.udp(family, protocol) return core.udp(family, protocol) end
function sock.raw(family, protocol) return core.raw(family, protocol) end

-- A string from `s|buf, [len]`.
local function bytes(buf, len)
	if type(buf) == 'string' then
		if len then
			assert(len >= 0 and len <= #buf, 'len out of range')
			return buf:sub(1, len)
		end
		return buf
	end
	assert(type(buf) == 'cdata', 'string or cdata buffer expected')
	assert(type(len) == 'number', 'len required with a cdata buffer')
	return ffi.string(buf, len)
end

local function cbuf(buf, maxlen)
	assert(type(buf) == 'cdata', 'cdata buffer expected')
	assert(type(maxlen) == 'number' and maxlen >= 0, 'maxlen expected')
end

for _, class in ipairs{tcp, udp, raw} do
	function class:type() return self._h:type() end
	function class:family() return self._h:family() end
	function class:protocol() return self._h:protocol() end
	function class:close() return self._h:close() end
	function class:closed() return self._h:closed() end
	function class:bind(host, port, af) return self._h:bind(host, port, af) end
	function class:setopt(opt, val) return self._h:setopt(opt, val) end
	function class:getopt(opt) return self._h:getopt(opt) end
	function class:local_addr() return self._h:local_addr() end
	function class:remote_addr() return self._h:remote_addr() end
	-- `...` are bind's arguments (`host, port, af`): the local address to
	-- bind to first, as upstream binds before ConnectEx.
	function class:connect(host, port, expires, af, ...)
		if (...) ~= nil or select('#', ...) > 1 then
			local ok, err = self:bind(...)
			if not ok then return nil, err end
		end
		return self._h:connect(host, port, expires, af)
	end
	function class:recv(buf, maxlen, expires)
		cbuf(buf, maxlen)
		local s, err = self._h:recv(maxlen, expires)
		if not s then return nil, err end
		ffi.copy(buf, s, #s)
		return #s
	end
	function class:send(buf, len, expires)
		return self._h:send(bytes(buf, len), expires)
	end
end

function tcp:listen(backlog, host, port, af)
	if type(backlog) ~= 'number' then
		backlog, host, port, af = nil, backlog, host, port
	end
	if backlog == 1/0 then backlog = nil end
	return self._h:listen(backlog, host, port, af)
end

function tcp:accept(expires)
	local c, err = self._h:accept(expires)
	if not c then return nil, err end
	local ra, la = c._h:remote_addr(), c._h:local_addr()
	if ra then c.remote_addr, c.remote_port = ra:addr():tostring(), ra:port() end
	if la then c.local_addr, c.local_port = la:addr():tostring(), la:port() end
	return c
end

function tcp:shutdown(how, expires) return self._h:shutdown(how, expires) end

function tcp:recvn(buf, len, expires)
	cbuf(buf, len)
	local s, err, p = self._h:recvn(len, expires)
	if not s then
		ffi.copy(buf, p, #p)
		return nil, err, #p
	end
	ffi.copy(buf, s, #s)
	return buf, len
end

local function tobuf(s)
	local buf = ffi.new('char[?]', math.max(#s, 1))
	ffi.copy(buf, s, #s)
	return buf, #s
end

function tcp:recvall(expires)
	local s, err, p = self._h:recvall(expires)
	if not s then
		local buf, len = tobuf(p)
		return nil, err, buf, len
	end
	return tobuf(s)
end

function tcp:recvall_read(expires)
	local buf, len = self:recvall(expires)
	if not buf then return nil, len end
	local s, i = ffi.string(buf, len), 1
	return function(rbuf, sz)
		if not rbuf then return nil end
		local n = math.min(sz, #s - i + 1)
		ffi.copy(rbuf, s:sub(i, i + n - 1), n)
		i = i + n
		return n
	end
end

for _, class in ipairs{udp, raw} do
	function class:sendto(host, port, buf, len, expires, af)
		return self._h:sendto(host, port, bytes(buf, len), expires, af)
	end

	-- `len` is the datagram's length: with the 'trunc' flag it can exceed
	-- `maxlen` (only `maxlen` bytes are stored).
	function class:recvnext(buf, maxlen, expires, flags)
		cbuf(buf, maxlen)
		local s, sa, len = self._h:recvnext(maxlen, expires, flags)
		if not s then return nil, sa end
		ffi.copy(buf, s, #s)
		return len, sa
	end
end

-- ===== threads =====

-- Lua coroutine -> sockloop thread handle (a Rust thread's handle, a
-- userdata, is its own key).
local handles = setmetatable({}, {__mode = 'k'})

local function handle(co)
	if type(co) == 'userdata' then return co end
	local h = handles[co]
	if not h then error('not a sock thread', 3) end
	return h
end
sock._handle = handle
sock._loop_call = core.loop_call
function sock._register(co, h) handles[co] = h end

function sock.newthread(f, name)
	local co, h = core.newthread(f, name)
	handles[co] = h
	return co
end

-- `true, values...` or `false, err`: a thread's error is raised as a
-- string, with its traceback, as upstream raises it.
local function checked(ok, ...)
	if ok then return ... end
	error((...), 0)
end

function sock.resume(co, ...) return checked(core.resume(handle(co), ...)) end
function sock.suspend(...) return core.suspend(...) end
function sock.transfer(co, ...) return checked(core.transfer(handle(co), ...)) end

function sock.thread(f, ...)
	local co = sock.newthread(f)
	sock.resume(co, ...)
	return co
end

function sock.currentthread()
	return (coroutine.running())
end

function sock.onthreadfinish(co, f)
	core.onthreadfinish(handle(co), co, f)
end

sock.threadenv = setmetatable({}, {__mode = 'k'})

-- cowrap/yield: the wrapped function runs in its own sock thread and
-- `sock.yield` transfers back to the caller of the wrapper.
local callers = setmetatable({}, {__mode = 'k'})
local DONE = {}

function sock.cowrap(f)
	local co, dead
	co = sock.newthread(function(...)
		local r = pack(f(...))
		dead = true
		sock.transfer(callers[co], DONE, unpack(r, 1, r.n))
	end)
	return function(...)
		if dead then error('cannot resume dead coroutine', 2) end
		callers[co] = sock.currentthread()
		local r = pack(sock.transfer(co, ...))
		if r[1] == DONE then return unpack(r, 2, r.n) end
		return unpack(r, 1, r.n)
	end
end

function sock.yield(...)
	local caller = callers[sock.currentthread()]
	if not caller then error('sock.yield outside a sock.cowrap function', 2) end
	return sock.transfer(caller, ...)
end

-- ===== the loop =====

sock.epoll_fd = core.epoll_fd
sock.iocp = core.iocp
sock.stop = core.stop

-- The loop runs from the main thread, as upstream: from the main chunk
-- (run by the runner as a thread of the loop) these ask the runner to run
-- it; from a thread inside the running loop `start` returns at once.
function sock.start()
	local ok, v = core.loop_call'start'
	if ok == nil then return end
	if not ok then error(v, 0) end
	return v
end

function sock.poll(timeout)
	local ok, v, err = core.loop_call('poll', timeout)
	if not ok then error(v, 0) end
	if v == nil then return nil, err end
	return v
end

-- Runs the loop to its end, as upstream's; inside a thread the loop is
-- already running, so `f` is just called.
function sock.run(f, ...)
	if core.running() or core.who() == 'thread' then return f(...) end
	local ret
	sock.thread(function(...) ret = pack(f(...)) end, ...)
	assert(sock.start())
	if ret then return unpack(ret, 1, ret.n) end
end

-- ===== sleeping and timers =====

sock.sleep = core.sleep
sock.sleep_until = core.sleep_until
sock.sleep_job = core.sleep_job

local CANCEL = {}
local timer = {}; timer.__index = timer

function timer:cancel()
	if self.job:is_sleeping() then
		self.job:wakeup(CANCEL)
	end
	self.cancelled = true
end

local function runtimer(t, period, f)
	local sjt = setmetatable({job = sock.sleep_job()}, timer)
	sock.thread(function()
		while not sjt.cancelled do
			if sjt.job:sleep_until(t) == CANCEL then return end
			if sjt.cancelled then return end
			local more = f()
			if not period or more == false then return end
			t = t + period
		end
	end)
	return sjt
end

function sock.runat(t, f) return runtimer(t, nil, f) end
function sock.runafter(s, f) return runtimer(sock.clock() + s, nil, f) end
-- As sockloop's `runevery`: a period under one millisecond (zero,
-- negative) is one millisecond, not a timer that fires without end.
function sock.runevery(s, f)
	assert(type(s) == 'number', 'runevery: number of seconds expected')
	local period = s < 0.001 and 0.001 or s
	return runtimer(sock.clock() + period, period, f)
end

return sock
