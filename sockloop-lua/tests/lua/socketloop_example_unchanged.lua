-- socketloop's own example (seed 001) exactly as documented. It uses
-- `socket` and `ltn12` as globals (LuaSocket 2.0 set them); under the
-- bridge both are nil, so it must fail loudly: the error is raised from
-- loop.newthread and the runner exits 1 with it. (Upstream fails the same
-- way on `socket`; LuaSocket 3.1 still sets the global `ltn12`.)
local loop = require'socketloop'
local http = require'socket.http'

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
	local body = getpage'http://google.com/'
	print('got ' .. #body .. ' bytes')
end)

loop.start()
