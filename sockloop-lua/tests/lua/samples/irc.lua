-- Like LuaSocket's samples/tinyirc.lua: two servers, every client in one
-- select set (a table with insert/remove in its metatable); a line from
-- one client goes to all the others. Prints both ports; ends once arg[1]
-- clients (2 by default) have come and gone.
local socket = require'socket'
io.stdout:setvbuf('line') -- the test follows the output as it comes
local expected = tonumber(arg[1]) or 2
local server1 = assert(socket.bind('127.0.0.1', 0))
local server2 = assert(socket.bind('127.0.0.1', 0))
server1:settimeout(1)
server2:settimeout(1)
print('ports', select(2, server1:getsockname()), (select(2, server2:getsockname())))

local function newset()
	local reverse, set = {}, {}
	return setmetatable(set, {__index = {
		insert = function(set, value)
			if not reverse[value] then
				table.insert(set, value)
				reverse[value] = #set
			end
		end,
		remove = function(set, value)
			local index = reverse[value]
			if index then
				reverse[value] = nil
				local top = table.remove(set)
				if top ~= value then
					reverse[top] = index
					set[index] = top
				end
			end
		end,
	}})
end

local set = newset()
set:insert(server1)
set:insert(server2)
local came, left = 0, 0
while left < expected do
	local readable, _, err = socket.select(set, nil)
	for _, input in ipairs(readable) do
		if input == server1 or input == server2 then
			local new = input:accept()
			if new then
				new:settimeout(1)
				set:insert(new)
				came = came + 1
				print('client', came)
			end
		else
			local line, rerr = input:receive()
			if rerr then
				input:close()
				set:remove(input)
				left = left + 1
				print('left', left, rerr)
			else
				print('broadcasting', line)
				local writable, werr = socket.skip(1, socket.select(nil, set, 1))
				if not werr then
					for _, output in ipairs(writable) do
						if output ~= input then output:send(line .. '\n') end
					end
				end
			end
		end
	end
end
