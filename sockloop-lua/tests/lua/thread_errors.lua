-- Errors in sock threads reach the program as sock.lua delivers them:
-- raised as strings (with the thread's traceback) by the call that ran
-- the thread: sock.thread/sock.resume before its first wait, sock.start
-- after it. (One start per script: upstream's start stays "running" after
-- it raised.)
local sock = require'sock'

-- The message line of an error, without the traceback and the paths.
local function msg(e)
	return type(e), (tostring(e):match'thread_errors%.lua:%d+: [^\n]*')
end

print('thread', msg(select(2, pcall(sock.thread, function() error('before a wait') end))))

local t = sock.newthread(function(a)
	print('got', a)
	error('in resume')
end)
print('resume', msg(select(2, pcall(sock.resume, t, 'x'))))

local ok = pcall(sock.thread, function() local x = nil; return x.field end)
print('index', ok, msg(select(2, pcall(sock.thread, function() local x = nil; return x.field end))))

-- An error after the first wait ends start() at once, although another
-- thread would keep the loop running.
local n = 0
sock.thread(function()
	while true do n = n + 1; sock.sleep(0.01) end
end)
sock.thread(function()
	sock.sleep(0.05)
	error('after a wait')
end)
print('start', msg(select(2, pcall(sock.start))))
print('the other thread ran', n > 1)
