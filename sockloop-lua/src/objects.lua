-- LuaSocket's TCP and UDP object methods on sockloop (the Lua half; the
-- Rust half, `core`, is luasocket.rs). Every method calls its Rust
-- function and raises the error it asks to raise as a string, as
-- LuaSocket's C code raises its argument errors. The objects are
-- userdata whose `__index` is made here: methods first, then `class`
-- (which follows the object's state) and socketloop's `socket` field.
local core = ...

local RAISE = core.RAISE

local function check(...)
	if (...) == RAISE then error((select(2, ...)), 0) end
	return ...
end

local function methods(fns)
	local t = {}
	for name, f in pairs(fns) do
		t[name] = function(...) return check(f(...)) end
	end
	return t
end

local tcp_fns, udp_fns = core.tcp, core.udp
local tcp_class, udp_class = tcp_fns.class, udp_fns.class
local sock_field = tcp_fns.socket
tcp_fns.class, udp_fns.class, tcp_fns.socket = nil, nil, nil

local TCP = methods(tcp_fns)
local UDP = methods(udp_fns)
TCP.setpeername = TCP.connect
TCP.setsockname = TCP.bind

-- A LuaSocket built with DEBUG=DEBUG returns the time send and receive
-- took as one more value (its test suite needs it): LUASOCKET_DEBUG=1 in
-- the environment gives that build's behaviour.
local debug_build = os.getenv('LUASOCKET_DEBUG')
debug_build = debug_build ~= nil and debug_build ~= '' and debug_build ~= '0'
if debug_build then
	local gettime = core.gettime
	for _, name in ipairs{'send', 'receive'} do
		local f = TCP[name]
		TCP[name] = function(...)
			local t = gettime()
			local a, b, c = f(...)
			return a, b, c, gettime() - t
		end
	end
end

core.set_index(
	function(self, key)
		local m = TCP[key]
		if m ~= nil then return m end
		if key == 'class' then return tcp_class(self) end
		if key == 'socket' then return sock_field(self) end
	end,
	function(self, key)
		local m = UDP[key]
		if m ~= nil then return m end
		if key == 'class' then return udp_class(self) end
	end)

return {tcp = TCP, udp = UDP, debug = debug_build, check = check}
