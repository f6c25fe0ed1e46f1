-- Like LuaSocket's samples/forward.lua with its dispatch.lua: forwards a
-- connection to 127.0.0.1:arg[1] with plain Lua coroutines over
-- socket.select, every socket at timeout 0 (non-blocking connect, accept,
-- receive with partial results, send from an index). Prints its port,
-- forwards arg[2] connections (1 by default), then the byte count.
local socket = require'socket'
io.stdout:setvbuf('line') -- the test follows the output as it comes
local target = tonumber(arg[1])
local connections = tonumber(arg[2]) or 1

local server = assert(socket.bind('127.0.0.1', 0))
assert(server:settimeout(0))
print('port', select(2, server:getsockname()))

-- socket -> the coroutine waiting for it to be readable / writable
local reading, writing = {}, {}
local finished, moved = 0, 0

local function wait(set, skt)
	set[skt] = coroutine.running()
	coroutine.yield()
end

local function spawn(f, ...)
	assert(coroutine.resume(coroutine.create(f), ...))
end

local function forget(...)
	for i = 1, select('#', ...) do
		local skt = select(i, ...)
		reading[skt], writing[skt] = nil, nil
		skt:close()
	end
end

-- Copies from one socket to the other until either end closes.
local function move(from, to)
	while true do
		wait(reading, from)
		local data, err, partial = from:receive(2048)
		data = data or partial
		local i = 1
		while i <= #data do
			wait(writing, to)
			local n, serr, last = to:send(data, i)
			if not n and serr ~= 'timeout' then return forget(from, to) end
			i = (n or last) + 1
		end
		moved = moved + #data
		if err and err ~= 'timeout' then
			finished = finished + 1
			return forget(from, to)
		end
	end
end

local function connect(host, port)
	local peer = assert(socket.tcp())
	assert(peer:settimeout(0))
	local ok, err = peer:connect(host, port)
	if not ok and err == 'timeout' then
		wait(writing, peer)
		ok, err = peer:connect(host, port)
		if err == 'already connected' then ok = 1 end
	end
	assert(ok, err)
	return peer
end

spawn(function()
	for _ = 1, connections do
		local client
		repeat
			wait(reading, server)
			client = server:accept()
		until client
		assert(client:settimeout(0))
		spawn(function()
			local peer = connect('127.0.0.1', target)
			spawn(move, client, peer)
			move(peer, client)
		end)
	end
end)

local function keys(t)
	local list = {}
	for k in pairs(t) do list[#list + 1] = k end
	return list
end

while finished < connections do
	local r, w, err = socket.select(keys(reading), keys(writing), 10)
	assert(err ~= 'timeout', 'nothing moved for 10 s')
	for _, skt in ipairs(r) do
		local co = reading[skt]
		reading[skt] = nil
		if co then assert(coroutine.resume(co)) end
	end
	for _, skt in ipairs(w) do
		local co = writing[skt]
		writing[skt] = nil
		if co then assert(coroutine.resume(co)) end
	end
end
print('forwarded', moved)
