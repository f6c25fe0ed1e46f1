-- The HTTP/1.1 keep-alive "hello" responder of benches/http_hello.rs in
-- sock.lua style, for sockloop-lua/bench.sh.
--   sockloop-lua http_hello.lua [exit_after_secs]
local sock = require'sock'
local ffi = require'ffi'

local RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello'
local exit_after = tonumber(arg[1]) or 60

local server = assert(sock.tcp())
assert(server:setopt('so_reuseaddr', true))
assert(server:listen('127.0.0.1', 0))
print('port ' .. server:local_addr():port())
io.stdout:flush()

local function serve(c)
	local buf = ffi.new'char[4096]'
	local pending = ''
	while true do
		local n = c:recv(buf, 4096)
		if not n or n == 0 then break end
		pending = pending .. ffi.string(buf, n)
		-- One response per complete request head.
		local out = {}
		while true do
			local e = pending:find('\r\n\r\n', 1, true)
			if not e then break end
			out[#out+1] = RESPONSE
			pending = pending:sub(e + 4)
		end
		if #out > 0 and not c:send(table.concat(out)) then break end
	end
	c:close()
end

sock.thread(function()
	while true do
		local c = server:accept()
		if c then sock.thread(serve, c) end
	end
end)
sock.runafter(exit_after, function() os.exit(0) end)
sock.start()
