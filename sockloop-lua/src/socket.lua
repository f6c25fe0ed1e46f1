-- LuaSocket's `socket` namespace on sockloop (the part socketloop
-- programs use): the Rust half (`core`) makes the TCP objects
-- (sockloop::luasocket); this half adds try/newtry/protect/skip.
local core = ...

local socket = {}
for k, v in pairs(core) do socket[k] = v end

local unpack = unpack or table.unpack
local function pack(...) return {n = select('#', ...), ...} end

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

return socket
