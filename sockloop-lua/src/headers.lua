-- LuaSocket's `socket.headers` on sockloop: `canonic[name]` is the canonic
-- spelling of a lowercase header name (sockloop::luasocket::headers'
-- table, looked up on first use), nil for a name it does not list.
local lookup = ...

local headers = {}
headers.canonic = setmetatable({}, {__index = function(t, name)
	if type(name) ~= 'string' then return nil end
	local canonic = lookup(name)
	if canonic then rawset(t, name, canonic) end
	return canonic
end})

return headers
