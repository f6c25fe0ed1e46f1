-- socketloop on sockloop: the Lua half of require'socketloop'. The Rust
-- half (`core`, this chunk's argument) serves the async sockets
-- (sockloop::socketloop::ASocket) and the loop (sockloop::socketloop);
-- socketloop's threads are sock threads, so both APIs mix on one loop.
local core = ...
local sock = require'sock'

local loop = {}

loop.wrap = core.wrap
loop.tcp = core.tcp
loop.connect = core.connect
loop.newserver = core.newserver
loop.stop = core.stop

-- Run from the main chunk as upstream: the runner runs the loop for it.
function loop.start(timeout)
	local ok, v = sock._loop_call('slstart', timeout)
	if ok == false then error(v, 0) end
end

-- `true`, or nothing when nothing waits (as upstream's).
function loop.step(timeout)
	local ok, v = sock._loop_call('slstep', timeout)
	if ok == false then error(v, 0) end
	if v then return v end
end

-- Made and run at once until it first waits, as upstream: an error
-- before that is raised here, one after by the start()/step() running.
function loop.newthread(handler, ...)
	local ok, v = core.thread(handler, nil, ...)
	if not ok then error(v, 0) end
	return v
end

-- The running coroutine and whether it is the main thread.
function loop.current() return coroutine.running() end
function loop.suspend() return sock.suspend() end
function loop.resume(thread, arg) return sock.resume(thread, arg) end

-- One loop serves symmetric coroutines too (sock.transfer).
loop.coro = loop

return loop
