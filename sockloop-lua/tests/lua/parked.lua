-- Many Lua threads parked at once (issue 22's crash): 9,000 in each of
-- sock.suspend, sleep_until, a UDP recv and a sleep
-- job's sleep, 36,000 in all, then calls that make new Lua values in
-- Rust (a thread, an accept, a connect), then every thread woken. A
-- parked thread must hold no reference on mlua's auxiliary stack, which
-- LuaJIT caps at 8,000 slots: with one each, the 8,000th parked thread
-- made every later call fail with "out of Lua stack".
local sock = require'sock'
local ffi = require'ffi'
local N = 9000
local PER = 50 -- readers per UDP socket

sock.run(function()
	local woke = {suspend = 0, sleep = 0, recv = 0, job = 0}
	local suspended = {}
	for i = 1, N do
		suspended[i] = sock.thread(function()
			local v = sock.suspend()
			woke.suspend = woke.suspend + v
		end)
	end
	local t = sock.clock() + 0.5
	for _ = 1, N do
		sock.thread(function()
			sock.sleep_until(t)
			woke.sleep = woke.sleep + 1
		end)
	end
	-- (PER readers per socket: a datagram wakes every reader of its
	-- socket, so one socket for all would cost N * N / 2 wakeups.)
	local us, ports = {}, {}
	for k = 1, N / PER do
		local u = assert(sock.udp())
		assert(u:bind('127.0.0.1', 0))
		us[k], ports[k] = u, u:local_addr():port()
		for _ = 1, PER do
			sock.thread(function()
				local buf = ffi.new'char[8]'
				local n = u:recv(buf, 8, sock.clock() + 50)
				if n == 1 and buf[0] == 120 then woke.recv = woke.recv + 1 end
			end)
		end
	end
	local jobs = {}
	for i = 1, N do
		jobs[i] = sock.sleep_job()
		sock.thread(function()
			if jobs[i]:sleep(30) == 'up' then woke.job = woke.job + 1 end
		end)
	end
	print('parked', 4 * N)

	-- Calls that make references while they are all parked.
	local srv = assert(sock.tcp())
	assert(srv:listen(16, '127.0.0.1', 0))
	local sport = srv:local_addr():port()
	sock.thread(function()
		local c = assert(sock.tcp())
		assert(c:connect('127.0.0.1', sport, sock.clock() + 5))
		assert(c:send('ok'))
		c:close()
	end)
	local cs = assert(srv:accept(sock.clock() + 5))
	local buf = ffi.new'char[8]'
	print('accept, recv', cs:recv(buf, 8, sock.clock() + 5), ffi.string(buf, 2))
	cs:close(); srv:close()

	-- Every thread woken.
	for i = 1, N do sock.resume(suspended[i], 1) end
	for i = 1, N do jobs[i]:wakeup('up') end
	local c = assert(sock.udp())
	for k = 1, N / PER do
		for _ = 1, PER do assert(c:sendto('127.0.0.1', ports[k], 'x')) end
	end
	local deadline = sock.clock() + 30
	while woke.recv < N and sock.clock() < deadline do sock.sleep(0.001) end
	sock.sleep_until(t + 0.01)
	print('woken', woke.suspend, woke.sleep, woke.recv, woke.job)
	c:close()
	for k = 1, N / PER do us[k]:close() end
end)
