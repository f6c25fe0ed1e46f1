-- shutdown('w') sends FIN; the other direction still works (seed: shutdown).
local sock = require'sock'
local ffi = require'ffi'

local l = assert(sock.tcp())
assert(l:listen('127.0.0.1', 0))
local port = l:local_addr():port()
sock.run(function()
	sock.thread(function()
		local s = assert(l:accept(sock.clock() + 5))
		local buf = ffi.new'char[16]'
		local n = s:recv(buf, 16, sock.clock() + 5)
		print('server got', ffi.string(buf, n))
		print('server eof', s:recv(buf, 16, sock.clock() + 5))
		print('server reply', s:send('late reply'))
		s:close()
	end)
	local c = assert(sock.tcp())
	assert(c:connect('127.0.0.1', port, sock.clock() + 5))
	assert(c:send('request'))
	print('shutdown w', c:shutdown'w')
	print('send after shutdown', c:send('more'))
	local b, len = c:recvall(sock.clock() + 5)
	print('client got', ffi.string(b, len))
	print('bad mode', pcall(c.shutdown, c, 'x') == false)
	c:close()
end)
l:close()
