-- Errors in socketloop threads reach the program as socketloop delivers
-- them: raised as strings by loop.newthread before the thread's first
-- wait, and by loop.start() after it (also from a newserver handler).
local loop = require'socketloop'

local function msg(e)
	return type(e), (tostring(e):match'socketloop_errors%.lua:%d+: [^\n]*')
end

print('newthread', msg(select(2, pcall(loop.newthread, function() error('before a wait') end))))
print('newthread arg', msg(select(2, pcall(loop.newthread, function(a) error('got ' .. a) end, 'x'))))

-- A handler that fails after its first wait: start() raises it.
local server = loop.newserver('127.0.0.1', 0, function(c)
	local line = c:receive'*l'
	error('handler got ' .. line)
end)
local _, port = server:getsockname()
loop.newthread(function()
	local c = assert(loop.connect('127.0.0.1', port))
	assert(c:send('hello\n'))
	c:receive'*l'
end)
print('start', msg(select(2, pcall(loop.start, 1))))

-- A handler that fails before its first wait: start() raises it too.
local server2 = loop.newserver('127.0.0.1', 0, function(c)
	error('handler at once')
end)
local _, port2 = server2:getsockname()
loop.newthread(function()
	local c = assert(loop.connect('127.0.0.1', port2))
	c:receive'*l'
end)
print('start', msg(select(2, pcall(loop.start, 1))))
