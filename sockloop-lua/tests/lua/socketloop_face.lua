-- What a socketloop program sees: return values, value types and errors
-- as the real socketloop (over LuaSocket 3.1) gives them (the expected
-- output was taken from it). Each handler's and the client's lines are
-- logged apart and printed at the end (their order is the loop's).
local loop = require'socketloop'

print('newthread', type(loop.newthread(function(a, b) print('args', a, b) end, 'x', 'y')))
print('step with nothing to do', select('#', loop.step(0)))
print('start with nothing to do', select('#', loop.start(0)))
print('current', type(loop.current()), select(2, loop.current()))

local slog, clog = {}, {}
local function log(t, ...)
	local s = {}
	for i = 1, select('#', ...) do s[i] = tostring((select(i, ...))) end
	t[#t + 1] = table.concat(s, ' ')
end

local server, served
server = loop.newserver('127.0.0.1', 0, function(c)
	local hlog = {}
	slog[#slog + 1] = hlog
	log(hlog, 'handler current', type(loop.current()), select(2, loop.current()))
	log(hlog, 'server got', c:receive'*l')
	log(hlog, 'server send', c:send('pong\n'))
	log(hlog, 'server got', c:receive'*l')
	log(hlog, 'server close', c:close())
	served = (served or 0) + 1
	if served == 2 then log(hlog, 'server closed', server:close()) end
end)
local ip, port = server:getsockname()
-- (The port is a string in LuaSocket 3.1.0, a number under the bridge.)
print('server', ip, tonumber(port) > 0)

loop.newthread(function()
	local c = assert(loop.connect('127.0.0.1', port))
	log(clog, 'send', c:send('ping\n'))
	log(clog, 'client got', c:receive'*l')
	log(clog, 'client close', c:close())
	-- tcp() + connect(): true, as socketloop's connect returns.
	local c2 = loop.tcp()
	log(clog, 'connect', c2:connect('127.0.0.1', port))
	log(clog, 'send', c2:send('bye\n'))
	log(clog, 'got', c2:receive'*l')
	log(clog, 'getsocket', type(c2:getsocket()), tostring(c2:getsocket()):match'^tcp{%a+}')
	c2:close()
	-- A closed port: nil and LuaSocket's words.
	local t = loop.tcp('127.0.0.1', 0)
	local _, dead = t:getsockname()
	t:close()
	log(clog, 'connect refused', loop.connect('127.0.0.1', dead))
end)
loop.start(1)
for i, hlog in ipairs(slog) do
	print('handler ' .. i .. ':\n' .. table.concat(hlog, '\n'))
end
print('client:\n' .. table.concat(clog, '\n'))
