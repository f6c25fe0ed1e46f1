-- Copas' threads, names, parking and loop, as real Copas 4.11 gives them
-- (the .out file was taken from real Copas with LuaSocket).
local copas = require'copas'

-- addthread: starts on the loop's next round, in the order added, with
-- its arguments; the loop ends when nothing is left.
local log = {}
local function say(...)
	local t = {...}
	for i = 1, select('#', ...) do t[i] = tostring(t[i]) end
	log[#log + 1] = table.concat(t, ' ')
end
local a = copas.addthread(function(x, y)
	say('a starts', x, y)
	copas.pause(0.02)
	say('a ends')
end, 'one', 'two')
copas.addnamedthread('bee', function()
	say('b starts as', copas.getthreadname())
	copas.setthreadname('bumble')
	say('b now', copas.getthreadname())
end)
say('added', type(a), copas.getthreadname(a) == tostring(a))
print('finished before loop', copas.finished(), 'running', copas.running)
copas.loop()
for _, l in ipairs(log) do print(l) end
print('finished after loop', copas.finished(), 'running', copas.running)

-- pause returns the time slept; wakeup ends a pause early; pauseforever
-- waits for wakeup; sleep(-1) too.
copas.loop(function()
	local slept = copas.pause(0.01)
	print('pause slept >= 0.01', slept >= 0.01, slept < 1)
	local sleeper = copas.addthread(function()
		local t = copas.pause(60)
		print('woken early', t < 1)
	end)
	local forever = copas.addthread(function()
		local t = copas.pauseforever()
		print('pauseforever woken', type(t))
	end)
	local neg = copas.addthread(function()
		copas.sleep(-1)
		print('sleep(-1) woken')
	end)
	copas.pause(0.01)
	copas.wakeup(sleeper)
	copas.wakeup(forever)
	copas.wakeup(neg)
	print('wakeups sent')
end)

-- removethread: the thread never runs again.
copas.loop(function()
	local t = copas.addthread(function()
		copas.pause(0.01)
		print('removed thread ran: wrong')
	end)
	copas.pause(0)
	copas.removethread(t)
	print('removed')
end)

-- a thread parked forever does not keep the loop running
local stuck = copas.addthread(function() copas.pauseforever() end)
copas.loop()
print('loop ended with a thread parked forever')

-- exit, exiting, waitforexit
copas.loop(function()
	copas.addthread(function()
		copas.waitforexit()
		print('released by exit, exiting =', copas.exiting())
	end)
	copas.addthread(function()
		copas.pause(0.01)
		print('exiting before exit =', copas.exiting())
	end)
end)
print('exiting after loop =', copas.exiting())

-- step: true when something ran; finished once all is done
copas.addthread(function() copas.pause(0.01) end)
local steps = 0
while not copas.finished() do
	copas.step(1)
	steps = steps + 1
end
print('stepped until finished', steps > 0, copas.finished())

-- errors: the error handler gets the error value, the coroutine and nil;
-- the default handler can be replaced; a per-thread one wins.
local seen = {}
copas.seterrorhandler(function(err, co, skt)
	seen[#seen + 1] = ('default: %s %s %s'):format(tostring(err), type(co), tostring(skt))
end, true)
copas.loop(function()
	copas.addthread(function() error('plain', 0) end)
	copas.addthread(function() error({code = 42}) end)
	copas.addthread(function()
		copas.seterrorhandler(function(err, co)
			seen[#seen + 1] = 'own: ' .. tostring(err) .. ' ' .. tostring(co == coroutine.running())
		end)
		copas.pause(0)
		error('with position')
	end)
end)
table.sort(seen)
for _, s in ipairs(seen) do print((s:gsub('table: 0x%x+', 'table'))) end
print('geterrorhandler is a function', type(copas.geterrorhandler()))

-- gettraceback: the message, the thread's name and the socket's
local tb
copas.seterrorhandler(function(err, co, skt) tb = copas.gettraceback(err, co, skt) end, true)
copas.loop(function()
	copas.addnamedthread('failing', function() error('traced', 0) end)
end)
print((tb:match('^[^\n]*')))
print('has a stack', tb:find('stack traceback:', 1, true) ~= nil)
local ok, e = pcall(copas.seterrorhandler, 'x')
print(ok, e:match('Expected.*'))
