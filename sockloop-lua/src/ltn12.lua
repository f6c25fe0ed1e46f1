-- LTN12 (filters, sources, sinks, pumps) for the bridge, written for it
-- after LuaSocket's ltn12 interface.
--
-- The protocol the chains follow: a filter called with a chunk returns
-- output; while that output is not "", the filter may hold more and is
-- called with "" until it answers "". At the end it is called with nil
-- until it answers nil. A source returns chunks, then nil (or nil, err);
-- a sink takes chunks, then nil, and answers 1 (or nil, err).
local ltn12 = {
	filter = {}, source = {}, sink = {}, pump = {},
	BLOCKSIZE = 2048, _VERSION = 'LTN12 1.0.3',
}
local filter, source, sink, pump = ltn12.filter, ltn12.source, ltn12.sink, ltn12.pump

local unpack = unpack or table.unpack

-- ===== filters =====

-- A filter from a low-level one that keeps its context outside:
-- `low(ctx, chunk, extra)` returns the output and the next context.
function filter.cycle(low, ctx, extra)
	assert(low, 'low-level filter expected')
	return function(chunk)
		local out
		out, ctx = low(ctx, chunk, extra)
		return out
	end
end

-- Two filters as one: `f`'s output goes through `g`.
local function chain2(f, g)
	local f_more, g_more = false, false -- output left for a "" call
	local ending, f_done = false, false
	-- `a` (f's output) into g: g's output when there is some.
	local function through(a)
		local b = g(a)
		if b == nil then error('filter returned inappropriate nil') end
		g_more = b ~= ''
		if g_more then return b end
	end
	return function(chunk)
		if chunk == nil then
			ending = true
		elseif chunk ~= '' then
			local a = f(chunk)
			if a == nil then error('filter returned inappropriate nil') end
			f_more = a ~= ''
			if f_more then
				local b = through(a)
				if b then return b end
			end
		end
		while true do
			if g_more then
				local b = g('')
				g_more = b ~= '' and b ~= nil
				if g_more then return b end
			elseif f_more then
				local a = f('')
				f_more = a ~= '' and a ~= nil
				if f_more then
					local b = through(a)
					if b then return b end
				end
			elseif not ending then
				return ''
			elseif not f_done then
				local a = f(nil)
				if a == nil then
					f_done = true
				elseif a ~= '' then
					local b = through(a)
					if b then return b end
				end
			else
				local b = g(nil)
				if b ~= '' then return b end
			end
		end
	end
end

-- Several filters as one, applied in order.
function filter.chain(...)
	local n = select('#', ...)
	local fs = {...}
	for i = 1, n do assert(type(fs[i]) == 'function', 'filter expected') end
	local f = fs[1]
	for i = 2, n do f = chain2(f, fs[i]) end
	return f
end

-- ===== sources =====

function source.empty()
	return function() return nil end
end

function source.error(err)
	return function() return nil, err end
end

-- A file handle's contents; the handle is closed at the end.
function source.file(handle, io_err)
	if not handle then return source.error(io_err or 'unable to open file') end
	return function()
		local chunk = handle:read(ltn12.BLOCKSIZE)
		if not chunk then handle:close() end
		return chunk
	end
end

-- A plain source from a "fancy" one (which may return a source to use
-- from then on as its second value).
function source.simplify(src)
	assert(src, 'source expected')
	return function()
		local chunk, err_or_next = src()
		src = err_or_next or src
		if not chunk then return nil, err_or_next end
		return chunk
	end
end

function source.string(s)
	if not s or s == '' then return source.empty() end
	local i = 1
	return function()
		if i > #s then return nil end
		local chunk = s:sub(i, i + ltn12.BLOCKSIZE - 1)
		i = i + ltn12.BLOCKSIZE
		return chunk
	end
end

-- The entries of `t`, in order.
function source.table(t)
	t = t or {}
	local i = 0
	return function()
		i = i + 1
		return t[i]
	end
end

-- A source one can push chunks back into: `src(chunk)` puts it back, the
-- next call without an argument returns it first.
function source.rewind(src)
	assert(src, 'source expected')
	local back = {}
	return function(chunk)
		if chunk ~= nil then
			back[#back + 1] = chunk
			return
		end
		if #back > 0 then return table.remove(back) end
		return src()
	end
end

-- `src`'s chunks through the filters (each chunk once, without "").
function source.chain(src, f, ...)
	assert(src and f, 'source and filter expected')
	if select('#', ...) > 0 then f = filter.chain(f, ...) end
	local state = 'feed' -- 'drain': f holds output; 'finish': src ended
	return function()
		while true do
			if state == 'drain' then
				local out = f('')
				if out == '' or out == nil then
					state = 'feed'
				else
					return out
				end
			elseif state == 'feed' then
				local chunk, err = src()
				if err then return nil, err end
				if chunk == nil then
					state = 'finish'
				elseif chunk ~= '' then
					local out = f(chunk)
					if out == nil then error('filter returned inappropriate nil') end
					if out ~= '' then
						state = 'drain'
						return out
					end
				end
			elseif state == 'finish' then
				local out = f(nil)
				if out == nil then
					state = 'done'
					return nil
				end
				if out ~= '' then return out end
			else
				return nil
			end
		end
	end
end

-- The sources one after the other.
function source.cat(...)
	local srcs = {...}
	local i = 1
	return function()
		while srcs[i] do
			local chunk, err = srcs[i]()
			if chunk then return chunk end
			if err then return nil, err end
			i = i + 1
		end
		return nil
	end
end

-- ===== sinks =====

-- Stores the chunks in `t` (made if missing), which it also returns.
function sink.table(t)
	t = t or {}
	return function(chunk)
		if chunk then t[#t + 1] = chunk end
		return 1
	end, t
end

-- A plain sink from a "fancy" one (which may return a sink to use from
-- then on as its second value).
function sink.simplify(snk)
	assert(snk, 'sink expected')
	return function(chunk, err)
		local ok, err_or_next = snk(chunk, err)
		if not ok then return nil, err_or_next end
		snk = err_or_next or snk
		return 1
	end
end

-- Writes to a file handle, closing it at the end.
function sink.file(handle, io_err)
	if not handle then return sink.error(io_err or 'unable to open file') end
	return function(chunk)
		if not chunk then
			handle:close()
			return 1
		end
		return handle:write(chunk)
	end
end

function sink.null()
	return function() return 1 end
end

function sink.error(err)
	return function() return nil, err end
end

-- A sink that sends each chunk through the filters, then into `snk`:
-- `sink.chain(f, snk)` or `sink.chain(f1, f2, ..., snk)`.
function sink.chain(f, snk, ...)
	if select('#', ...) > 0 then
		local all = {f, snk, ...}
		snk = table.remove(all)
		f = filter.chain(unpack(all))
	end
	assert(f and snk, 'filter and sink expected')
	return function(chunk, err)
		if chunk == '' then return 1 end
		local out = f(chunk)
		if chunk ~= nil then
			while out ~= nil and out ~= '' do
				local ok, serr = snk(out, err)
				if not ok then return nil, serr end
				out = f('')
			end
			return 1
		end
		while out ~= nil do
			if out ~= '' then
				local ok, serr = snk(out, err)
				if not ok then return nil, serr end
			end
			out = f(nil)
		end
		local ok, serr = snk(nil, err)
		if not ok then return nil, serr end
		return 1
	end
end

-- ===== pumps =====

-- Moves one chunk: 1 while there is more, nil (and the error, if any) at
-- the end.
function pump.step(src, snk)
	local chunk, src_err = src()
	local ok, snk_err = snk(chunk, src_err)
	if chunk and ok then return 1 end
	return nil, src_err or snk_err
end

-- Moves everything: 1, or nil and the error.
function pump.all(src, snk, step)
	assert(src and snk, 'source and sink expected')
	step = step or pump.step
	while true do
		local ok, err = step(src, snk)
		if not ok then
			if err then return nil, err end
			return 1
		end
	end
end

return ltn12
