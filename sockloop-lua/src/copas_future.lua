-- `copas.future` on sockloop: a Copas thread whose results can be waited
-- for (`get`), polled (`try`) or dropped (`cancel`), over copas.lua's
-- threads and semaphores.
local copas = require'copas'

local unpack = unpack or table.unpack
local function pack(...) return {n = select('#', ...), ...} end

local M = {SUCCESS = true, PENDING = false, ERROR = 'error'}
setmetatable(M, {__index = function(_, k)
	error("unknown field 'future." .. tostring(k) .. "'", 2)
end})

local F = {}
F.__index = F
F.__call = function(self, ...) return self:get(...) end

-- Hands `results` to the waiters, unless the future is already settled.
local function settle(f, results)
	if f.results then return end
	f.results = results
	f.sema:give(f.sema:get_wait())
end

function F:get()
	if not self.results then self.sema:take(1, math.huge) end
	return unpack(self.results, 1, self.results.n)
end

function F:try()
	local r = self.results
	if not r then return M.PENDING end
	if r[1] then return M.SUCCESS, unpack(r, 2, r.n) end
	return M.ERROR, r[2]
end

function F:cancel()
	if self.results then return false end
	settle(self, pack(false, 'cancelled'))
	copas.removethread(self.coro)
	return true
end

function M.addnamedthread(name, func, ...)
	local f = setmetatable({sema = copas.semaphore.new(9999, 0, math.huge)}, F)
	f.coro = copas.addnamedthread(name, function(...)
		local r = pack(pcall(func, ...))
		settle(f, r)
	end, ...)
	return f
end

function M.addthread(func, ...)
	return M.addnamedthread(nil, func, ...)
end

return M
