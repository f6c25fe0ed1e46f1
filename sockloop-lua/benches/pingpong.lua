-- resume/suspend round trips: sock threads on the bridge against plain
-- LuaJIT coroutines. `sockloop-lua pingpong.lua [N]` (release build).
local sock = require'sock'
local N = tonumber(arg[1]) or 1000000

local function bench(label, f)
	f(N / 10) -- warm-up (JIT traces, allocations)
	local t0 = sock.clock()
	f(N)
	local dt = sock.clock() - t0
	print(('%-22s %8.1f ns/round trip'):format(label, dt / N * 1e9))
	return dt
end

local plain = bench('luajit coroutine', function(n)
	local co = coroutine.create(function()
		while true do coroutine.yield(1) end
	end)
	for i = 1, n do coroutine.resume(co, i) end
end)

local bridged = bench('sock.resume/suspend', function(n)
	local co = sock.newthread(function()
		while true do sock.suspend(1) end
	end)
	for i = 1, n do sock.resume(co, i) end
end)

print(('ratio %.1fx'):format(bridged / plain))
