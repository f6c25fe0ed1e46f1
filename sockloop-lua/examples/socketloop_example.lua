-- socketloop's own example (seed 001), run on sockloop:
--   cargo run -p sockloop-lua -- sockloop-lua/examples/socketloop_example.lua
-- A local HTTP server stands in for http://google.com/, so it runs
-- offline; `socket` and `ltn12` are required explicitly (LuaSocket 2.0
-- made them globals).
local loop = require'socketloop'
local http = require'socket.http'
local socket = require'socket'
local ltn12 = require'ltn12'

-- The stand-in server: one response per connection.
local page = ('<p>hello from the local server</p>\n'):rep(50)
local server = assert(loop.newserver('127.0.0.1', 0, function(c)
	repeat
		local line = c:receive'*l'
	until not line or line == ''
	c:send('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: '
		.. #page .. '\r\nConnection: close\r\n\r\n' .. page)
	c:close()
end))
local _, port = server:getsockname()

-- From here on, the example as upstream has it (the URL aside).
local function getpage(url)
	local t = {}
	local ok, code, headers = http.request{
		url = url,
		sink = ltn12.sink.table(t),
		create = function()
			return loop.wrap(socket.try(socket.tcp()))
		end,
	}
	assert(ok, code)
	return table.concat(t), headers, code
end

loop.newthread(function()
	local body = getpage('http://127.0.0.1:' .. port .. '/')
	print('got ' .. #body .. ' bytes')
	server:close() -- nothing left to wait for: start() returns
end)

loop.start()
