-- sleep/sleep_until, sleep jobs, runat/runafter/runevery/cancel
-- (seed: sleeping and timers).
local sock = require'sock'

sock.run(function()
	local t0 = sock.clock()
	sock.sleep(0.02)
	print('sleep', sock.clock() - t0 >= 0.02)
	local t1 = sock.clock() + 0.02
	sock.sleep_until(t1)
	print('sleep_until', sock.clock() >= t1)
	sock.sleep(0)
	print('sleep 0 ok')

	-- A sleep job woken with values.
	local sj = sock.sleep_job()
	sock.thread(function()
		sock.sleep(0.01)
		print('wakeup', sj:wakeup('a', 2, true))
	end)
	print('woken with', sj:sleep(5))
	-- Its timeout: no values.
	local t2 = sock.clock()
	print('timed out', select('#', sj:sleep(0.02)), sock.clock() - t2 >= 0.02)
	print('wakeup nobody', sj:wakeup('x'))

	-- Timers, in deadline order.
	local order = {}
	sock.runafter(0.03, function() order[#order+1] = 'after' end)
	sock.runat(sock.clock() + 0.01, function() order[#order+1] = 'at' end)
	local n = 0
	local every = sock.runevery(0.005, function()
		n = n + 1
		if n == 3 then return false end
	end)
	local cancelled = sock.runafter(0.02, function() order[#order+1] = 'cancelled!' end)
	cancelled:cancel()
	sock.sleep(0.1)
	print('timers', table.concat(order, ' '), 'every ran', n)
	-- A timer function can do I/O (it runs in a thread).
	local slept
	sock.runafter(0.001, function() sock.sleep(0.005); slept = true end)
	sock.sleep(0.05)
	print('timer slept', slept)
end)
