-- Threads: newthread/resume/suspend/transfer/thread/currentthread/
-- onthreadfinish/threadenv/cowrap/yield, errors, start/stop/poll/run
-- (seed: scheduling).
local sock = require'sock'

-- resume passes the first arguments, then suspend's return values.
local log = {}
local co = sock.newthread(function(a, b)
	log[#log+1] = 'start ' .. a .. ' ' .. b
	local x, y = sock.suspend(a + b, 'two')
	log[#log+1] = 'resumed ' .. tostring(x) .. ' ' .. tostring(y)
	return 'done', x
end, 'worker')
print('created', #log, type(co))
print('resume 1', sock.resume(co, 1, 2))
print('resume 2', sock.resume(co, 'x', nil))
print(table.concat(log, '; '))
print('dead', pcall(sock.resume, co) == false)

-- currentthread identity and threadenv.
local self_co
local t = sock.newthread(function()
	self_co = sock.currentthread()
	sock.threadenv[self_co] = {name = 'env of t'}
	return sock.threadenv[sock.currentthread()].name
end)
print('threadenv', sock.resume(t))
print('currentthread', self_co == t, sock.threadenv[t].name)
local main, ismain = coroutine.running()
print('main', sock.currentthread() == main, ismain)

-- onthreadfinish runs when the thread ends, with the thread.
local finished
local w = sock.newthread(function() sock.sleep(0.01) end)
sock.onthreadfinish(w, function(c) finished = (c == w) end)
sock.resume(w)
print('before start', finished)
sock.start()
print('after start', finished)

-- transfer: hand control (and values) to another thread and back.
local order = {}
local a, b
a = sock.newthread(function()
	order[#order+1] = 'a1'
	local v = sock.transfer(b, 'to b')
	order[#order+1] = 'a2 ' .. v
end)
b = sock.newthread(function(v)
	order[#order+1] = 'b1 ' .. v
	sock.transfer(a, 'to a')
	order[#order+1] = 'b2 (never)'
end)
sock.run(function()
	sock.resume(a)
end)
print('transfer', table.concat(order, ', '))

-- The resume trick: start several threads before polling; all run
-- concurrently, the loop waits for the longest.
local done = {}
for i = 1, 3 do
	sock.thread(function(n)
		sock.sleep(0.01 * n)
		done[#done+1] = n
	end, 4 - i)
end
print('started', #done)
sock.start()
print('finished in order', table.concat(done, ' '))

-- sock.thread passes arguments; sock.run returns the function's values.
print('run', sock.run(function(x, y) sock.sleep(0.001); return x * y, 'ok' end, 6, 7))

-- A Lua error in a thread is raised in whoever resumes it...
local bad = sock.newthread(function() sock.sleep(0.001); error('boom') end)
local ok, err = pcall(sock.resume, bad)
print('first resume', ok)
-- ...and by start() when the loop ran it.
local ok, err = pcall(sock.start)
print('start raises', ok, type(err), tostring(err):find('boom', 1, true) ~= nil)

-- cowrap/yield: a generator that can do I/O.
sock.run(function()
	local gen = sock.cowrap(function(n)
		for i = 1, n do
			sock.sleep(0.001)
			sock.yield(i * 10)
		end
		return 'end'
	end)
	print('cowrap', gen(3), gen(), gen(), gen())
	print('cowrap dead', pcall(gen) == false)
end)

-- stop: start returns after the running thread parks.
local ticks = 0
sock.thread(function()
	for i = 1, 5 do
		sock.sleep(0.001)
		ticks = ticks + 1
		if ticks == 2 then sock.stop() end
	end
end)
sock.start()
print('stopped at', ticks)
sock.start()
print('rest', ticks)

-- poll: one round.
print('poll empty', sock.poll(0))
sock.thread(function() sock.sleep(0.001) end)
local rounds = 0
while sock.poll(1) do rounds = rounds + 1 end
print('polled', rounds >= 1)

-- I/O outside a thread is a user error.
print('outside', pcall(sock.sleep, 0.001) == false)
