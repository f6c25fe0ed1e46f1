-- An echo server and its clients in plain sock.lua style, run on sockloop:
--   cargo run -p sockloop-lua -- sockloop-lua/examples/echo.lua [clients]
local sock = require'sock'
local ffi = require'ffi'

local clients = tonumber(arg[1]) or 3
local server = assert(sock.tcp())
assert(server:setopt('so_reuseaddr', true))
assert(server:listen('127.0.0.1', 0))
local port = server:local_addr():port()

-- The server: one thread per connection.
sock.thread(function()
	for i = 1, clients do
		local c = assert(server:accept())
		sock.thread(function()
			local buf = ffi.new'char[4096]'
			while true do
				local n = assert(c:recv(buf, 4096, sock.clock() + 5))
				if n == 0 then break end
				assert(c:send(buf, n))
			end
			c:close()
		end)
	end
	server:close()
end)

-- The clients, all started before the loop polls (sock.thread resumes).
for i = 1, clients do
	sock.thread(function()
		local c = assert(sock.tcp())
		assert(c:connect('127.0.0.1', port, sock.clock() + 5))
		local msg = 'hello ' .. i
		assert(c:send(msg))
		local buf = ffi.new('char[?]', #msg)
		assert(c:recvn(buf, #msg, sock.clock() + 5))
		print(ffi.string(buf, #msg))
		c:close()
	end)
end

sock.start()
print('done')
