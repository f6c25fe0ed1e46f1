-- sock.run: an error before f's first wait is raised by run at once, one
-- after it by the loop run runs; the loop always runs to its end, also
-- for threads and timers f made and left (luapower's sock_test timers).
local sock = require'sock'

local function msg(e)
	return type(e), (tostring(e):match'run_errors%.lua:%d+: [^\n]*')
end

print('before', msg(select(2, pcall(sock.run, function() error('before a wait') end))))

-- f returns at once; what it started runs to the end. (Only run's first
-- value: upstream's `ret and unpack(ret)` keeps one.)
local order = {}
print('returns', (sock.run(function()
	sock.thread(function()
		sock.sleep(0.02)
		order[#order + 1] = 'thread'
	end)
	sock.runafter(0.01, function() order[#order + 1] = 'timer' end)
	return 1, 2
end)))
print('ran', table.concat(order, ' '))

-- start() inside run (after a wait: the loop is running) returns nothing.
print('inner start', sock.run(function()
	sock.sleep(0.01)
	return select('#', sock.start())
end))

print('after', msg(select(2, pcall(sock.run, function()
	sock.sleep(0.01)
	error('after a wait')
end))))
