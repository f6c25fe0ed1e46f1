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
loop.start = core.start
loop.step = core.step
loop.stop = core.stop

-- Made and run at once until it first waits, as upstream; a Lua error in
-- it is reported by start()/step() as a Rust thread's error is.
function loop.newthread(handler, arg)
	return core.thread(handler, nil, arg)
end

function loop.current() return (coroutine.running()) end
function loop.suspend() return sock.suspend() end
function loop.resume(thread, arg) return sock.resume(thread, arg) end

-- One loop serves symmetric coroutines too (sock.transfer).
loop.coro = loop

return loop
