-- sock.lua on sockloop: the Lua half of require'sock'. The Rust half
-- (`core`, passed as this chunk's argument) does the I/O and scheduling;
-- this file keeps sock.lua's calling conventions: FFI buffers (`buf, len`),
-- `nil, err[, partial]` returns, socket objects with `s.s` and fields.
local core = ...
local W = core.wait -- wait.rs's Lua half
local ffi = require'ffi'

local sock = {}
local unpack = unpack or table.unpack
local function pack(...) return {n = select('#', ...), ...} end

sock.clock = core.clock

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

-- An error of the Rust half raised as sock.lua raises: a string (mlua's
-- errors are userdata), at a line of sock.lua.
local errmsg = core.errmsg
local function rethrow(ok, ...)
	if ok then return ... end
	local e = ...
	if type(e) ~= 'userdata' then error(e, 0) end
	error(errmsg(e), 1)
end

-- Calls the Rust half's method `m` of socket object `self`.
local function call(self, m, ...)
	local h = self._h
	return rethrow(pcall(h[m], h, ...))
end

-- Calls the Rust half's method `m` that may wait (wait.rs's
-- `add_async_method`) through its wrapper, made once per name (looking
-- it up on the userdata would go through the type's `__index` function).
local async_methods = {}
local function acall(self, m, ...)
	local f = async_methods[m]
	if not f then
		f = W.method(m .. '\0raw')
		async_methods[m] = f
	end
	local h = self._h
	return rethrow(pcall(f, h, ...))
end

-- A Rust half's function whose errors are raised as strings.
local function raising(f)
	return function(...) return rethrow(pcall(f, ...)) end
end

sock.tcp = raising(core.tcp)
sock.udp = raising(core.udp)
sock.raw = raising(core.raw)
sock.addr = raising(core.addr)

-- Waits: in a sock thread's own coroutine, a call yields a wait request
-- (WAIT, opcode, operands...) to the Rust driver of its thread, which
-- resumes it with the results, or `FAIL, err` (for `back` to raise);
-- elsewhere (the main chunk outside the runner, a plain coroutine) it
-- calls the Rust half. The opcodes are ops.rs's.
local WAIT, SUSPEND, FAIL, driven = W.WAIT, W.SUSPEND, W.FAIL, W.driven
local running, yield = coroutine.running, coroutine.yield
local OP_SUSPEND, OP_TRANSFER, OP_SLEEP, OP_SLEEP_UNTIL, OP_RECV, OP_SEND = 1, 2, 3, 4, 5, 6

-- What the driver resumed a wait with: its results, raised as `rethrow`
-- raises when they are `FAIL, err`.
local function back(...)
	if (...) == FAIL then return rethrow(false, select(2, ...)) end
	return ...
end

-- An FFI buffer for the Rust half (edge.rs): its address and its size,
-- `nil` for a pointer (`buf + k`, C memory), whose length is trusted as
-- sock.lua trusts it. Arrays and VLAs (also references to them) have a
-- size; anything else is no buffer.
local intptr_t = ffi.typeof'intptr_t'
local buffer_kinds = {} -- ctype id -> 'array' | 'pointer' | false
local function address(buf, msg)
	local ct = ffi.typeof(buf)
	local id = tonumber(ct)
	local k = buffer_kinds[id]
	if k == nil then
		local s = tostring(ct)
		k = s:find('[', 1, true) and 'array' or s:find('*', 1, true) and 'pointer' or false
		buffer_kinds[id] = k
	end
	if not k then error(msg, 0) end
	return tonumber(ffi.cast(intptr_t, buf)), k == 'array' and ffi.sizeof(buf) or nil
end

-- `s|buf, [len]` for send: the string (read in place) or the buffer's
-- address, the length, the buffer's size.
local function bytes(buf, len)
	if type(buf) == 'string' then
		if len then
			assert(len >= 0 and len <= #buf, 'len out of range')
		end
		return buf, len
	end
	assert(type(buf) == 'cdata', 'string or cdata buffer expected')
	assert(type(len) == 'number', 'len required with a cdata buffer')
	local addr, size = address(buf, 'string or cdata buffer expected')
	return addr, len, size
end

-- A receive buffer: its address and size.
local function cbuf(buf, maxlen)
	assert(type(buf) == 'cdata', 'cdata buffer expected')
	assert(type(maxlen) == 'number' and maxlen >= 0, 'maxlen expected')
	return address(buf, 'cdata buffer expected')
end

for _, class in ipairs{tcp, udp, raw} do
	function class:type() return call(self, 'type') end
	function class:family() return call(self, 'family') end
	function class:protocol() return call(self, 'protocol') end
	-- As sock.lua: `s.s` is gone once closed; closing again is `true`.
	local function closed(self, ...)
		self.s = nil
		return ...
	end
	function class:close() return closed(self, call(self, 'close')) end
	function class:closed() return call(self, 'closed') end
	function class:bind(host, port, af) return call(self, 'bind', host, port, af) end
	function class:setopt(opt, val) return call(self, 'setopt', opt, val) end
	function class:getopt(opt) return call(self, 'getopt', opt) end
	function class:local_addr() return call(self, 'local_addr') end
	function class:remote_addr() return call(self, 'remote_addr') end
	-- `...` are bind's arguments (`host, port, af`): the local address to
	-- bind to first, as upstream binds before ConnectEx.
	function class:connect(host, port, expires, af, ...)
		if (...) ~= nil or select('#', ...) > 1 then
			local ok, err = self:bind(...)
			if not ok then return nil, err end
		end
		return acall(self, 'connect', host, port, expires, af)
	end
	function class:recv(buf, maxlen, expires)
		local addr, size = cbuf(buf, maxlen)
		if driven[running()] then
			return back(yield(WAIT, OP_RECV, self._h, addr, maxlen, size, expires))
		end
		return acall(self, 'recv', addr, maxlen, size, expires)
	end
	function class:send(buf, len, expires)
		local data, n, size = bytes(buf, len)
		if driven[running()] then
			return back(yield(WAIT, OP_SEND, self._h, data, n, size, expires))
		end
		return acall(self, 'send', data, n, size, expires)
	end
end

function tcp:listen(backlog, host, port, af)
	if type(backlog) ~= 'number' then
		backlog, host, port, af = nil, backlog, host, port
	end
	if backlog == 1/0 then backlog = nil end
	return call(self, 'listen', backlog, host, port, af)
end

-- The client socket and the peer's `sa`, as sock.lua; the client also
-- has sock.lua's Windows fields (addresses as strings, ports).
function tcp:accept(expires)
	local c, sa = acall(self, 'accept', expires)
	if not c then return nil, sa end
	local la = c._h:local_addr()
	if sa then c.remote_addr, c.remote_port = sa:addr():tostring(), sa:port() end
	if la then c.local_addr, c.local_port = la:addr():tostring(), la:port() end
	return c, sa
end

function tcp:shutdown(how, expires) return call(self, 'shutdown', how, expires) end

function tcp:recvn(buf, len, expires)
	local addr, size = cbuf(buf, len)
	local n, err, p = acall(self, 'recvn', addr, len, size, expires)
	if not n then return nil, err, p or 0 end
	return buf, len
end

local function tobuf(s)
	local buf = ffi.new('char[?]', math.max(#s, 1))
	ffi.copy(buf, s, #s)
	return buf, #s
end

function tcp:recvall(expires)
	local s, err, p = acall(self, 'recvall', expires)
	if not s then
		local buf, len = tobuf(p)
		return nil, err, buf, len
	end
	return tobuf(s)
end

-- glue.buffer_reader over recvall's buffer: `read(buf, sz) -> n`, then
-- `nil, 'eof'`; `nil, err` from every call when recvall failed.
function tcp:recvall_read(expires)
	local p, n = self:recvall(expires)
	return function(buf, sz)
		if p == nil then return p, n end
		sz = math.min(n, sz)
		if sz == 0 then return nil, 'eof' end
		ffi.copy(buf, p, sz)
		p = p + sz
		n = n - sz
		return sz
	end
end

for _, class in ipairs{udp, raw} do
	function class:sendto(host, port, buf, len, expires, af)
		local data, n, size = bytes(buf, len)
		return acall(self, 'sendto', host, port, data, n, size, expires, af)
	end

	-- `len` is the datagram's length: with the 'trunc' flag it can exceed
	-- `maxlen` (only `maxlen` bytes are stored).
	function class:recvnext(buf, maxlen, expires, flags)
		local addr, size = cbuf(buf, maxlen)
		return acall(self, 'recvnext', addr, maxlen, size, expires, flags)
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
sock._loop_call = raising(core.loop_call)
-- Its handle and slot (threads.rs) also go in the coroutine's record.
function sock._register(co, h, n)
	handles[co] = h
	local r = driven[co]
	if r then r.h, r.n = h, n end
end

function sock.newthread(f, name)
	local co, h, n = rethrow(pcall(core.newthread, f, name))
	sock._register(co, h, n)
	return co
end

-- `true, values...` or `false, err`: a thread's error is raised as a
-- string, with its traceback, as upstream raises it.
local function checked(ok, ...)
	if ok then return ... end
	error((...), 0)
end

-- Lua<->Lua switches stay inside LuaJIT: a Lua thread parked in
-- sock.suspend (its driver waits in the core's suspend) is resumed with a
-- plain coroutine.resume of its coroutine ("nested"), the core told that
-- it runs (core.enter: nothing else can resume it meanwhile, it is the
-- current thread) and that it stopped (core.leave). When it suspends
-- again, its values go straight back to the resumer. Anything else it
-- does (a wait, a transfer, its end, an error) is handed to its own
-- driver with a real resume of its thread (core.handoff), which carries
-- on from there, as if its coroutine had yielded that to the driver; the
-- resumer gets control back as from any resume.
local co_resume, co_status, traceback = coroutine.resume, coroutine.status, debug.traceback
local enter, leave, handoff = core.enter, core.leave, core.handoff
local HANDOFF_REQUEST, HANDOFF_DONE, HANDOFF_FAILED = 1, 2, 3

-- `driven[co]` is a driven coroutine's record: `h` (its handle) and `n`
-- (its slot, for `enter`, which knows whether its driver waits for its
-- sock.suspend). The last one looked up is kept: a resume and the suspend
-- that ends it look up the same coroutine, and a lookup keyed by a
-- coroutine costs LuaJIT's interpreter more than the rest of the switch.
local last_co, last_r

function sock.suspend(...)
	local co = running()
	local r = last_r
	if co ~= last_co then r = driven[co]; last_co, last_r = co, r end
	if r then return yield(SUSPEND, ...) end
	return rethrow(pcall(core.suspend, ...))
end

local function hand_back(h, ...) return checked(rethrow(pcall(handoff, h, ...))) end

-- (A thread that ends returning a lone `nil` and one that returns nothing
-- look alike here; the ordinary resume gives nothing for both too.)
local function nested_done(co, r, ok, w, ...)
	if w == SUSPEND and ok then
		leave()
		return ...
	end
	leave()
	if not ok then return hand_back(r.h, HANDOFF_FAILED, w, traceback(co, tostring(w), 0)) end
	if w == WAIT and co_status(co) == 'suspended' then
		return hand_back(r.h, HANDOFF_REQUEST, ...)
	end
	return hand_back(r.h, HANDOFF_DONE, w, ...)
end

-- (When `enter` says no, the ordinary resume says why.)
function sock.resume(co, ...)
	local r = last_r
	if co ~= last_co then r = driven[co]; last_co, last_r = co, r end
	if r and enter(r.n, co) then
		return nested_done(co, r, co_resume(co, ...))
	end
	return checked(rethrow(pcall(core.resume, handle(co), ...)))
end
function sock.transfer(co, ...)
	local h = handle(co)
	if driven[running()] then return checked(back(yield(WAIT, OP_TRANSFER, h, ...))) end
	return checked(rethrow(pcall(core.transfer, h, ...)))
end

function sock.thread(f, ...)
	local co = sock.newthread(f)
	sock.resume(co, ...)
	return co
end

function sock.currentthread()
	return (coroutine.running())
end

function sock.onthreadfinish(co, f)
	rethrow(pcall(core.onthreadfinish, handle(co), co, f))
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

sock.epoll_fd = raising(core.epoll_fd)
sock.iocp = raising(core.iocp)
sock.stop = core.stop

-- The loop runs from the main thread, as upstream: from the main chunk
-- (run by the runner as a thread of the loop) these ask the runner to run
-- it; from a thread inside the running loop `start` returns at once.
function sock.start()
	local ok, v = rethrow(pcall(core.loop_call, 'start'))
	if ok == nil then return end
	if not ok then error(v, 0) end
	return v
end

function sock.poll(timeout)
	local ok, v, err = rethrow(pcall(core.loop_call, 'poll', timeout))
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

local sleep, sleep_until = raising(core.sleep), raising(core.sleep_until)
function sock.sleep(s)
	if type(s) == 'number' and driven[running()] then return back(yield(WAIT, OP_SLEEP, s)) end
	return sleep(s)
end
function sock.sleep_until(t)
	if type(t) == 'number' and driven[running()] then
		return back(yield(WAIT, OP_SLEEP_UNTIL, t))
	end
	return sleep_until(t)
end

-- A sleep job is a table, as upstream's (programs add fields to it).
local job = {}; job.__index = job
function job:sleep(s) return acall(self, 'sleep', s) end
function job:sleep_until(t) return acall(self, 'sleep_until', t) end
function job:wakeup(...) return call(self, 'wakeup', ...) end
function job:is_sleeping() return call(self, 'is_sleeping') end

function sock.sleep_job()
	return setmetatable({_h = core.sleep_job()}, job)
end

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
