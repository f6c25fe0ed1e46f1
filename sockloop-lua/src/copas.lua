-- Copas 4.x's `copas` module on sockloop, the Lua half. The Rust half
-- (`core`, copas.rs) is sockloop::copas: threads, the loop, parking,
-- error handlers, servers, locks, semaphores, queues and timers. This
-- half gives them Copas' Lua face (coroutines as handles, Copas' return
-- values and error words) and wraps the bridge's LuaSocket objects, whose
-- calls already wait as sockloop threads, with Copas' per-call timeouts.
local core = ...
local socket = require'socket'

local select, type, tostring, pairs, setmetatable, getmetatable, xpcall, error =
	select, type, tostring, pairs, setmetatable, getmetatable, xpcall, error
local unpack = unpack or table.unpack
local traceback = debug.traceback
local co_running = coroutine.running

local function pack(...) return {n = select('#', ...), ...} end

local copas = {
	_COPYRIGHT = 'sockloop (Copas API: Kepler Project, Thijs Schreijer)',
	_DESCRIPTION = 'Coroutine Oriented Portable Asynchronous Services, on sockloop',
	_VERSION = 'Copas 4.11.0',
	autoclose = true,
	running = false,
	gettime = core.gettime,
}

local weak_k = {__mode = 'k'}
local handles = setmetatable({}, weak_k)   -- coroutine -> core thread
local live = setmetatable({}, weak_k)      -- coroutine -> true, until it ends
local stacks = setmetatable({}, weak_k)    -- coroutine -> traceback of its error
local errhandlers = setmetatable({}, weak_k)
local names = setmetatable({}, {
	__mode = 'k',
	__index = function(self, k)
		local n = tostring(k)
		if k ~= nil then rawset(self, k, n) end
		return n
	end,
})
local by_name = setmetatable({}, {__mode = 'v'}) -- socket name -> socket

-- A Copas thread's body: runs `f(...)`, catching its error in the
-- coroutine (so its value and stack survive) for the core's error
-- handler, which calls `dispatch` below.
local FAILED = core.FAILED
local function shell(f, onexit)
	return function(...)
		local co = co_running()
		local r = pack(xpcall(f, function(e)
			-- The stack down to the thread's function, as Copas shows it.
			stacks[co] = (traceback('', 2):gsub("\n\t%[C%]: in function 'xpcall'.*$", ''))
			return e
		end, ...))
		live[co] = nil
		if onexit then onexit(co) end
		if r[1] then return end
		return FAILED, r[2]
	end
end

local function handle(co)
	if co == nil then return nil end
	return handles[co]
end

-- ===== names =====

local function realsocket(skt)
	local mt = getmetatable(skt)
	if type(skt) == 'table' and (mt and mt.__copas) then return skt.socket end
	return skt
end

function copas.setsocketname(name, skt)
	assert(type(name) == 'string', 'expected arg #1 to be a string')
	skt = assert(realsocket(skt), 'expected arg #2 to be a socket')
	names[skt] = name
	by_name[name] = skt
end

function copas.getsocketname(skt)
	skt = assert(realsocket(skt), 'expected arg #1 to be a socket')
	return names[skt]
end

function copas.setthreadname(name, co)
	assert(type(name) == 'string', 'expected arg #1 to be a string')
	co = co or co_running()
	assert(type(co) == 'thread', 'expected arg #2 to be a coroutine or nil')
	local h = handles[co]
	if h then core.setthreadname(name, h) else names[co] = name end
end

function copas.getthreadname(co)
	co = co or co_running()
	assert(type(co) == 'thread', 'expected arg #1 to be a coroutine or nil')
	local h = handles[co]
	if h then return core.getthreadname(h) or names[co] end
	return names[co]
end

-- ===== errors =====

function copas.gettraceback(msg, co, skt)
	local co_str = co == nil and 'nil' or copas.getthreadname(co)
	local skt_str = skt == nil and 'nil' or copas.getsocketname(skt)
	local msg_str = msg == nil and '' or tostring(msg)
	if msg_str == '' then
		msg_str = ('(coroutine: %s, socket: %s)'):format(co_str, skt_str)
	else
		msg_str = ('%s (coroutine: %s, socket: %s)'):format(msg_str, co_str, skt_str)
	end
	if type(co) == 'thread' then
		local stack = stacks[co]
		if stack then return msg_str .. stack end
		return traceback(co, msg_str)
	end
	return traceback(msg_str, 2)
end

local function default_handler(msg, co, skt)
	print(copas.gettraceback(msg, co, skt))
end
local deferror = default_handler

function copas.seterrorhandler(err, default)
	assert(err == nil or type(err) == 'function', 'Expected the handler to be a function, or nil')
	if default then
		assert(err ~= nil, 'Expected the handler to be a function when setting the default')
		deferror = err
	else
		errhandlers[co_running()] = err
	end
end
copas.setErrorHandler = copas.seterrorhandler

function copas.geterrorhandler(co)
	co = co or co_running()
	return errhandlers[co] or deferror
end

core.set_dispatcher(function(err, co, sktname)
	local skt = sktname and (by_name[sktname] or sktname) or nil
	local ok, e = pcall(errhandlers[co or 0] or deferror, err, co, skt)
	if not ok then print('Failed executing error handler: ' .. tostring(e)) end
	if co then errhandlers[co] = nil end
end)

local timeout_errors = setmetatable({}, weak_k)
function copas.useSocketTimeoutErrors(bool)
	timeout_errors[co_running()] = not not bool
end

-- ===== threads =====

function copas.addnamedthread(name, handler, ...)
	if type(name) == 'function' and type(handler) == 'string' then
		name, handler = handler, name
	end
	local co, h = core.addthread(name, shell(handler), ...)
	handles[co], live[co] = h, true
	return co
end

function copas.addthread(handler, ...)
	return copas.addnamedthread(nil, handler, ...)
end

function copas.removethread(co)
	local h = handle(co)
	if h then
		live[co] = nil
		core.removethread(h)
	end
end

function copas.wakeup(co)
	local h = handle(co)
	if h then core.wakeup(h) end
end

function copas.pause(sleeptime)
	return core.pause(sleeptime)
end

function copas.pauseforever()
	return core.pauseforever()
end

function copas.sleep(sleeptime)
	return core.sleep(sleeptime or 0)
end

-- ===== the loop =====

function copas.step(timeout)
	return core.step(timeout)
end

function copas.finished()
	return core.finished()
end

function copas.exit() core.exit() end
function copas.exiting() return core.exiting() end
function copas.waitforexit() core.waitforexit() end

function copas.loop(initializer, timeout)
	if type(initializer) == 'function' then
		copas.addnamedthread('copas_initializer', initializer)
	else
		timeout = initializer or timeout
	end
	copas.running = true
	local ok, err = pcall(core.loop, timeout)
	copas.running = false
	if not ok then error(err, 0) end
end

setmetatable(copas, {__call = function(_, ...) return copas.loop(...) end})

-- ===== sockets =====

-- Copas' per-socket timeouts (nil: none), by the LuaSocket object.
local t_connect = setmetatable({}, weak_k)
local t_send = setmetatable({}, weak_k)
local t_receive = setmetatable({}, weak_k)
local servers = {} -- LuaSocket server -> true
local udp_max = 8192

local function is_tcp(skt)
	return tostring(skt):sub(1, 3) == 'tcp'
end

-- A call served from the read-ahead buffer does not wait, so a thread
-- looping on such calls would keep the others from running: as Copas
-- does (at random there), every tenth socket call also gives up one round.
local calls = 0
local function fair(...)
	calls = calls + 1
	if calls >= 10 then
		calls = 0
		core.pause(0)
	end
	return ...
end

-- A Copas timeout of 0 (or math.huge) is none: Copas then arms no timer.
local function limit(t)
	if t == 0 or t == math.huge then return nil end
	return t
end

local function timed(t, f, skt, ...)
	skt:settimeout(limit(t) or -1)
	return fair(f(skt, ...))
end

function copas.close(skt, ...)
	return skt:close(...)
end

function copas.settimeout(skt, timeout)
	timeout = timeout or -1
	if type(timeout) ~= 'number' then
		return nil, "timeout must be 'nil' or a number"
	end
	return copas.settimeouts(skt, timeout, timeout, timeout)
end

function copas.settimeouts(skt, connect, send, read)
	for _, v in ipairs{{connect, t_connect, 'connect'}, {send, t_send, 'send'}, {read, t_receive, 'read'}} do
		local t, tab, what = v[1], v[2], v[3]
		if t ~= nil and type(t) ~= 'number' then
			return nil, what .. " timeout must be 'nil' or a number"
		end
		if t then tab[skt] = t >= 0 and t or nil end
	end
	return true
end

local function timeout_word(err)
	if err == 'timeout' and not timeout_errors[co_running()] then return 'timeout' end
	return err
end

function copas.receive(client, pattern, part)
	pattern = pattern or '*l'
	local s, err, p = timed(t_receive[client], client.receive, client, pattern, part)
	return s, err and timeout_word(err), p
end

function copas.receivefrom(client, size)
	return timed(t_receive[client], client.receivefrom, client, size or udp_max)
end

-- Returns as soon as more than `part` has arrived (or the pattern is met).
function copas.receivepartial(client, pattern, part)
	pattern = pattern or '*l'
	local orig = #(part or '')
	local t = limit(t_receive[client])
	local deadline = t and core.clock() + t
	repeat
		client:settimeout(0)
		local s, err, p = fair(client:receive(pattern, part))
		if s or err ~= 'timeout' or #(p or '') > orig then
			return s, err, p
		end
		part = p
		local left = deadline and deadline - core.clock()
		if left and left <= 0 then return nil, timeout_word('timeout'), p end
		if core.readable(client, left) == nil then socket.select({client}, nil, left) end
	until false
end
copas.receivePartial = copas.receivepartial

function copas.send(client, data, from, to)
	return timed(t_send[client], client.send, client, data, from, to)
end

function copas.sendto(client, data, ip, port)
	return client:sendto(data, ip, port)
end

function copas.connect(skt, host, port)
	local ok, err = timed(t_connect[skt], skt.connect, skt, host, port)
	-- LuaSocket's own word for a connect still under way.
	if err == 'timeout' and timeout_errors[co_running()] then
		err = 'Operation already in progress'
	end
	return ok, err
end

function copas.flush() end

local tcp_mt = {__copas = true}
local udp_mt = {__copas = true}
local tcp_m, udp_m = {}, {}
tcp_mt.__index, udp_mt.__index = tcp_m, udp_m
tcp_mt.__tostring = function(self) return tostring(self.socket) .. ' (copas wrapped)' end
udp_mt.__tostring = tcp_mt.__tostring

function tcp_m:send(data, from, to) return copas.send(self.socket, data, from, to) end
function tcp_m:receive(pattern, prefix)
	if t_receive[self.socket] == 0 then
		return copas.receivepartial(self.socket, pattern, prefix)
	end
	return copas.receive(self.socket, pattern, prefix)
end
function tcp_m:receivepartial(pattern, prefix) return copas.receivepartial(self.socket, pattern, prefix) end
function tcp_m:flush() end
function tcp_m:settimeout(t) return copas.settimeout(self.socket, t) end
function tcp_m:settimeouts(c, s, r) return copas.settimeouts(self.socket, c, s, r) end
function tcp_m:connect(...) return copas.connect(self.socket, ...) end
function tcp_m:close(...) return copas.close(self.socket, ...) end
for _, m in ipairs{'bind', 'getstats', 'setstats', 'listen', 'accept', 'shutdown',
		'getpeername', 'getfd', 'setfd', 'dirty'} do
	tcp_m[m] = function(self, ...) return self.socket[m](self.socket, ...) end
end
for _, m in ipairs{'getsockname', 'setoption', 'getoption'} do
	tcp_m[m] = function(self, ...)
		local r = pack(pcall(self.socket[m], self.socket, ...))
		if r[1] then return unpack(r, 2, r.n) end
		return nil, 'not implemented by LuaSec'
	end
end
function tcp_m:dohandshake() return nil, 'TLS is not served by the sockloop bridge' end
function tcp_m:sni() return nil, 'not a tls socket' end
function tcp_m:getpeerverification() return nil, 'not a tls socket' end
function tcp_m:getpeercertificate() return nil, 'not a tls socket' end
function tcp_m:getpeerchain() return nil, 'not a tls socket' end
function tcp_m:getpeerfinished() return nil, 'not a tls socket' end
function tcp_m:getfinished() return nil, 'not a tls socket' end
function tcp_m:getalpn() return nil, 'not a tls socket' end

for k, v in pairs(tcp_m) do udp_m[k] = v end
function udp_m:send(...) return self.socket:send(...) end
function udp_m:sendto(...) return self.socket:sendto(...) end
function udp_m:receive(size) return copas.receive(self.socket, size or udp_max) end
function udp_m:receivefrom(size) return copas.receivefrom(self.socket, size or udp_max) end
function udp_m:setpeername(...) return self.socket:setpeername(...) end
function udp_m:setsockname(...) return self.socket:setsockname(...) end
function udp_m:close() return true end

function copas.wrap(skt, sslt)
	local mt = getmetatable(skt)
	if type(skt) == 'table' and mt and mt.__copas then return skt end
	if sslt then error('TLS (sslparams) is not served by the sockloop bridge', 2) end
	skt:settimeout(0)
	if is_tcp(skt) then
		return setmetatable({socket = skt, ssl_params = {}}, tcp_mt)
	end
	return setmetatable({socket = skt}, udp_mt)
end

function copas.handler(handler, sslparams)
	return function(skt, ...)
		return handler(copas.wrap(skt, sslparams), ...)
	end
end

function copas.dohandshake()
	return nil, 'TLS is not served by the sockloop bridge'
end

local function autoclose(skt)
	if copas.autoclose then skt:close() end
end

function copas.addserver(server, handler, timeout, name)
	if not is_tcp(server) then
		-- A UDP server: its handler runs once, as a thread, on the socket.
		if name then copas.setsocketname(name, server) end
		if timeout then copas.settimeout(server, timeout) end
		local co = copas.addnamedthread(names[server] .. ':handler', handler, server)
		return co
	end
	if type(timeout) ~= 'number' then timeout = nil end
	if name then copas.setsocketname(name, server) end
	local tname = names[server]
	by_name[tname] = server
	servers[server] = true
	if timeout then copas.settimeout(server, timeout) end
	core.addserver(server, shell(function(client, cname, c, s, r)
		local co = co_running()
		handles[co], live[co] = core.current(), true
		if cname then names[client], by_name[cname] = cname, client end
		copas.settimeouts(client, c or -1, s or -1, r or -1)
		return handler(client)
	end), timeout, tname, autoclose)
end

function copas.removeserver(server, keep_open)
	local skt = realsocket(server)
	servers[skt] = nil
	core.removeserver(skt)
	if keep_open then return true end
	return server:close()
end

-- ===== timeouts of the current thread (copas.timeout) =====

local timeouts = setmetatable({}, weak_k)
local ntimeouts = 0
local timers = setmetatable({}, weak_k) -- armed timers (cancelall)

function copas.timeout(delay, callback)
	local co = co_running()
	local old = timeouts[co]
	if old then
		old:cancel()
		timeouts[co] = nil
		ntimeouts = ntimeouts - 1
	end
	if delay > 0 and delay ~= math.huge then
		ntimeouts = ntimeouts + 1
		timeouts[co] = copas.timer.new{delay = delay, callback = function()
			if timeouts[co] then
				timeouts[co] = nil
				ntimeouts = ntimeouts - 1
			end
			callback(co)
		end}
	elseif delay ~= 0 and delay ~= math.huge then
		error('timout value must be greater than or equal to 0, got: ' .. tostring(delay))
	end
	return true
end

function copas.gettimeouts() return ntimeouts end

function copas.status()
	local n = 0
	for _ in pairs(live) do n = n + 1 end
	return {running = not not copas.running, timeout = ntimeouts, active = n,
		timer = 0, inactive = 0, read = 0, write = 0}
end

function copas.cancelall()
	for t in pairs(timers) do t:cancel() end
	for co in pairs(live) do copas.removethread(co) end
	for s in pairs(servers) do copas.removeserver(s) end
	copas.exit()
end

-- Copas' debug logging has no twin: sockloop's `trace` feature shows the
-- loop. `debug.socket(skt)` gives the socket itself (no call logging).
copas.debug = {
	start = function() end,
	stop = function() end,
	socket = function(skt) return skt end,
}

-- Copas' test mode exports its timeout registers; sockloop keeps no such
-- state in Lua, so they stay empty.
if _G._TEST then
	copas._socket_register, copas._operation_register, copas._timeout_flags = {}, {}, {}
end

-- ===== lock, semaphore, queue, timer =====

local function class(name)
	local c = {}
	c.__index = c
	c.__tostring = function(self) return name .. ': ' .. tostring(self.ud) end
	return c
end

local lock = class('copas.lock')
copas.lock = lock
function lock.new(timeout, not_reentrant)
	return setmetatable({ud = core.lock_new(timeout, not_reentrant)}, lock)
end
function lock:get(timeout)
	-- Copas gives no wait time for a lock destroyed before the call.
	if self.destroyed then return nil, 'destroyed' end
	return core.lock_get(self.ud, timeout)
end
function lock:release() return core.lock_release(self.ud) end
function lock:destroy()
	self.destroyed = true
	return core.lock_destroy(self.ud)
end

local sema = class('copas.semaphore')
copas.semaphore = sema
function sema.new(max, start, timeout)
	return setmetatable({ud = core.sema_new(max, start, timeout)}, sema)
end
function sema:take(n, timeout) return core.sema_take(self.ud, n, timeout) end
function sema:give(n) return core.sema_give(self.ud, n) end
function sema:get_count() return core.sema_count(self.ud) end
function sema:get_wait() return core.sema_wait(self.ud) end
function sema:destroy() return core.sema_destroy(self.ud) end

local queue = class('copas.queue')
copas.queue = queue
function queue.new(opts)
	local ud, name = core.queue_new(opts and opts.name)
	return setmetatable({ud = ud, name = name, workers = setmetatable({}, weak_k), worker_id = 0}, queue)
end
function queue:push(item) return core.queue_push(self.ud, item) end
function queue:pop(timeout) return core.queue_pop(self.ud, timeout) end
function queue:get_size() return core.queue_size(self.ud) end
function queue:stop() return core.queue_stop(self.ud) end
function queue:finish(timeout, no_destroy) return core.queue_finish(self.ud, timeout, no_destroy) end
function queue:destroy() return core.queue_destroy(self.ud) end
-- The core's worker runs `worker(item)` for each item in a coroutine of
-- its own; Lua sees one coroutine per worker, standing for its thread.
function queue:add_worker(worker)
	assert(type(worker) == 'function', 'expected worker to be a function')
	local h, err = core.queue_add_worker(self.ud, shell(worker))
	if not h then return nil, err end
	local co = coroutine.create(function() end)
	coroutine.resume(co) -- dead, as Copas' worker is once it ended
	handles[co], live[co] = h, true
	self.workers[co] = true
	return co
end
function queue:get_workers()
	local list = {}
	for co in pairs(self.workers) do
		if not core.finished_thread(handles[co]) then list[#list + 1] = co end
	end
	return list
end

local timer = class('copas.timer')
copas.timer = timer
function timer.new(opts)
	assert((opts.delay or -1) >= 0, 'delay must be greater than or equal to 0')
	assert(type(opts.callback) == 'function', 'expected callback to be a function')
	local self = setmetatable({delay = opts.delay, recurring = not not opts.recurring,
		params = opts.params, errorhandler = opts.errorhandler, cancelled = false}, timer)
	local cb, eh = opts.callback, opts.errorhandler
	-- Stands for the timer's thread in the error handler's `co`.
	local co = coroutine.create(function() end)
	local function run()
		handles[co] = core.current()
		if not self.recurring then
			self.cancelled = true
			timers[self] = nil
		end
		xpcall(cb, function(e)
			stacks[co] = (traceback('', 2):gsub("\n\t%[C%]: in function 'xpcall'.*$", ''))
			return (eh or copas.geterrorhandler())(e, co, nil)
		end, self, self.params)
	end
	self.ud, self.name = core.timer_new(opts.name, opts.delay, opts.initial_delay, opts.recurring, run)
	timers[self] = true
	return self
end
function timer:arm(initial_delay)
	assert(initial_delay == nil or initial_delay >= 0, 'delay must be greater than or equal to 0')
	local ok, err = core.timer_arm(self.ud, initial_delay)
	if not ok then return nil, err end
	self.cancelled = false
	timers[self] = true
	return self
end
function timer:cancel()
	local ok, err = core.timer_cancel(self.ud)
	if not ok then return nil, err end
	self.cancelled = true
	timers[self] = nil
	return self
end

-- ===== LuaSocket's clients over Copas' threads =====

-- The bridge's sockets wait as sockloop threads, so LuaSocket's own
-- clients, run in a Copas thread, are Copas clients.
local lazy = {http = 'socket.http', ftp = 'socket.ftp', smtp = 'socket.smtp', future = 'copas.future'}
setmetatable(copas, {
	__call = function(_, ...) return copas.loop(...) end,
	__index = function(self, k)
		local mod = lazy[k]
		if not mod then return nil end
		local m = require(mod)
		rawset(self, k, m)
		return m
	end,
})

return copas
