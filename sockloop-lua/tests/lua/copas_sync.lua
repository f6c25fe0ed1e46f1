-- Copas' lock, semaphore, queue, timer and future: return values and
-- error words as real Copas 4.11 gives them (the .out file was taken from
-- real Copas with LuaSocket).
local copas = require'copas'
local lock, sema, queue, timer = copas.lock, copas.semaphore, copas.queue, copas.timer

local function show(...)
	local t = {}
	for i = 1, select('#', ...) do
		local v = select(i, ...)
		t[i] = type(v) == 'number' and (v == math.floor(v) and tostring(v) or 'number') or tostring(v)
	end
	print(table.concat(t, '\t'))
end

copas.loop(function()
	-- lock
	local l = lock.new(0.05, true)
	show('lock get', l:get())
	show('lock get again (not reentrant)', l:get(0.02))
	show('lock release', l:release())
	show('lock release again', l:release())
	local order = {}
	assert(l:get())
	for i = 1, 3 do
		copas.addthread(function()
			local ok = l:get(1)
			order[#order + 1] = i
			copas.pause(0.005)
			l:release()
		end)
	end
	copas.pause(0.01)
	l:release()
	copas.pause(0.1)
	show('lock order', table.concat(order, ','))
	show('lock destroy', l:destroy())
	show('lock get destroyed', l:get())
	show('lock release destroyed', l:release())

	-- semaphore
	local s = sema.new(3, 1, 0.05)
	show('sema count', s:get_count())
	show('sema take 1', s:take(1))
	show('sema take 2 (times out)', s:take(2))
	show('sema take 4 (too many)', s:take(4))
	show('sema give 2', s:give(2))
	show('sema give 5', s:give(5))
	show('sema count', s:get_count())
	local waiter = copas.addthread(function()
		show('sema waiter took', s:take(3, 1))
	end)
	show('sema take all', s:take(3))
	copas.pause(0.01)
	show('sema wait', s:get_wait())
	show('sema give 3', s:give(3))
	copas.pause(0.01)
	show('sema destroy', s:destroy())
	show('sema take destroyed', s:take(1))
	show('sema give destroyed', s:give(1))

	-- queue
	local q = queue.new{name = 'jobs'}
	show('queue name', q.name)
	show('queue push', q:push('a'), q:push('b'))
	show('queue size', q:get_size())
	show('queue pop', q:pop())
	show('queue pop', q:pop())
	show('queue pop empty', q:pop(0.01))
	local got = {}
	q:add_worker(function(item) got[#got + 1] = item end)
	for i = 1, 3 do q:push(i) end
	show('queue finish', q:finish(1))
	show('worker got', table.concat(got, ','))
	show('queue push after finish', q:push('x'))
	show('queue pop after finish', q:pop(0))
	local q2 = queue.new()
	show('default queue name', (q2.name:gsub('%d+$', 'N')))
	q2:push(1)
	show('queue stop', q2:stop())
	show('queue push stopping', q2:push(2))
	show('queue pop stopping', q2:pop(0))
	show('queue destroy', q2:destroy())

	-- timer
	local fired = 0
	local t = timer.new{delay = 0.01, recurring = true, params = 'p', callback = function(tm, p)
		fired = fired + 1
		if fired == 3 then show('timer params', p, tm:cancel() == tm) end
	end}
	show('timer arm armed', t:arm())
	copas.pause(0.1)
	show('timer fired', fired)
	show('timer cancel again', t:cancel())
	local once = timer.new{delay = 0.01, callback = function() show('once fired') end}
	copas.pause(0.05)
	show('once cancel', once:cancel())
	show('once re-arm', once:arm(0.01) == once)
	copas.pause(0.05)
	show('timer bad delay', (pcall(timer.new, {delay = -1, callback = print})))

	-- future
	local future = copas.future
	local f = future.addthread(function(x) copas.pause(0.01); return x * 2, 'ok' end, 21)
	show('future try pending', f:try())
	show('future get', f:get())
	show('future try done', f:try())
	local bad = future.addthread(function() error('boom', 0) end)
	show('future failed', bad:get())
	local slow = future.addthread(function() copas.pause(10) end)
	show('future cancel', slow:cancel(), slow:cancel())
	show('future cancelled', slow:get())
end)
print('done')
