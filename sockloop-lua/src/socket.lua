-- LuaSocket's `socket` namespace on sockloop: the Rust half (`core`) makes
-- the TCP and UDP objects and serves select, dns, gettime, sleep
-- (luasocket.rs); this half adds what LuaSocket writes in Lua or in its
-- except.c: try/newtry/protect, skip, choose, connect4/connect6, and the
-- LTN12 sinks and sources over sockets.
local core, objects = ...

-- The Rust functions raise LuaSocket's argument errors through `check`.
local check = objects.check
local function checked(f)
	return function(...) return check(f(...)) end
end

local socket = {}
for k, v in pairs(core) do
	socket[k] = type(v) == 'function' and checked(v) or v
end
socket.dns = {}
for k, v in pairs(core.dns) do socket.dns[k] = checked(v) end
if objects.debug then socket._DEBUG = true end

local unpack = unpack or table.unpack
local function pack(...) return {n = select('#', ...), ...} end

function socket.connect4(address, port, laddress, lport)
	return socket.connect(address, port, laddress, lport, 'inet')
end

function socket.connect6(address, port, laddress, lport)
	return socket.connect(address, port, laddress, lport, 'inet6')
end

-- An error raised by a `try` function: `protect` turns it back into
-- `nil, err`; any other error passes through.
local TRY = {}

function socket.newtry(finalizer)
	return function(...)
		if (...) then return ... end
		if finalizer then finalizer() end
		error(setmetatable({(select(2, ...))}, TRY), 0)
	end
end

socket.try = socket.newtry()

function socket.protect(f)
	return function(...)
		local r = pack(pcall(f, ...))
		if r[1] then return unpack(r, 2, r.n) end
		if getmetatable(r[2]) == TRY then return nil, r[2][1] end
		error(r[2], 0)
	end
end

function socket.skip(d, ...) return select(d + 1, ...) end

-- `choose(t)`: a function calling `t[name](opt1, opt2)`, `name` being
-- optional ("default").
function socket.choose(t)
	return function(name, opt1, opt2)
		if type(name) ~= 'string' then
			name, opt1, opt2 = 'default', name, opt1
		end
		local f = t[name or 'nil']
		if not f then error('unknown key (' .. tostring(name) .. ')', 3) end
		return f(opt1, opt2)
	end
end

-- ===== LTN12 sinks and sources over a socket =====

socket.BLOCKSIZE = 2048

-- A callable object that select() can watch: it answers getfd and dirty
-- for the socket it uses.
local function watchable(sock, call)
	return setmetatable({
		getfd = function() return sock:getfd() end,
		dirty = function() return sock:dirty() end,
	}, {__call = call})
end

local sinkt, sourcet = {}, {}
socket.sinkt, socket.sourcet = sinkt, sourcet

sinkt['keep-open'] = function(sock)
	return watchable(sock, function(_, chunk)
		if chunk == nil then return 1 end
		return sock:send(chunk)
	end)
end

sinkt['close-when-done'] = function(sock)
	return watchable(sock, function(_, chunk)
		if chunk == nil then
			sock:close()
			return 1
		end
		return sock:send(chunk)
	end)
end

sinkt.default = sinkt['keep-open']

sourcet['by-length'] = function(sock, length)
	return watchable(sock, function()
		if length <= 0 then return nil end
		local chunk, err = sock:receive(math.min(socket.BLOCKSIZE, length))
		if err then return nil, err end
		length = length - #chunk
		return chunk
	end)
end

sourcet['until-closed'] = function(sock)
	local finished = false
	return watchable(sock, function()
		if finished then return nil end
		local chunk, err, partial = sock:receive(socket.BLOCKSIZE)
		if chunk then return chunk end
		if err ~= 'closed' then return nil, err end
		sock:close()
		finished = true
		return partial
	end)
end

sourcet.default = sourcet['until-closed']

socket.sink = socket.choose(sinkt)
socket.source = socket.choose(sourcet)

return socket
