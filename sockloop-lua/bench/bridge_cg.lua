-- Lua switch cases sized for callgrind (sockloop-lua/bench/callgrind_bridge.sh):
-- one case, COUNT round trips, once, so that two counts' difference in
-- instructions is the cost of COUNT2 - COUNT1 round trips. The same file
-- runs on plain LuaJIT (case `coroutine` only), on the real sock.lua (the
-- reference's luajit-ref) and on the bridge's runner.
--   bridge_cg.lua coroutine N   coroutine.resume(B, v) -> coroutine.yield(v + 1), N times
--   bridge_cg.lua resume N      sock.resume(B, v) -> sock.suspend(v + 1) between two sock threads
--   bridge_cg.lua transfer N    sock.transfer(B, v) -> sock.transfer(A, v + 1) between two sock threads
local case, n = arg[1], tonumber(arg[2])
assert(case and n, 'usage: bridge_cg.lua coroutine|resume|transfer COUNT')

if case == 'coroutine' then
	local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
	local B = create(function(v) while true do v = yield(v + 1) end end)
	local v = 0
	for _ = 1, n do
		local _, r = resume(B, v)
		v = r
	end
	assert(v == n)
	return
end

local sock = require'sock'
local v = 0
if case == 'resume' then
	sock.run(function()
		local B = sock.newthread(function(x)
			while true do x = sock.suspend(x + 1) end
		end)
		for _ = 1, n do v = sock.resume(B, v) end
	end)
elseif case == 'transfer' then
	sock.run(function()
		local A = sock.currentthread()
		local B = sock.newthread(function(x)
			while true do x = sock.transfer(A, x + 1) end
		end)
		for _ = 1, n do v = sock.transfer(B, v) end
	end)
else
	error('unknown case ' .. case)
end
assert(v == n, v)
