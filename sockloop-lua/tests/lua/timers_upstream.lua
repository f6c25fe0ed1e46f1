-- luapower's sock_test.lua test_timers, as it is there. Upstream prints
-- the ticks and 'canceling', then fails inside job:cancel() on Linux (its
-- sleep job's wakeup indexes an undefined `job`; see PORTING.md); the
-- bridge goes on to print 'done' and exits.
io.stdout:setvbuf'no'
local sock = require'sock'

local function test_timers()

	sock.run(function()
		local i = 1
		local job = sock.runevery(.1, function()
			print(i); i = i + 1
		end)
		sock.runafter(1, function()
			print'canceling'
			job:cancel()
			print'done'
		end)
	end)

	os.exit()
end

test_timers()
