-- A small ltn12 for the bridge's socket.http: table/null sinks,
-- string/empty sources, pump.step/pump.all, with LuaSocket's shapes
-- (a sink is called with each chunk, then with nil at the end).
local ltn12 = {sink = {}, source = {}, pump = {}, BLOCKSIZE = 2048}

function ltn12.sink.table(t)
	t = t or {}
	return function(chunk)
		if chunk then t[#t + 1] = chunk end
		return 1
	end, t
end

function ltn12.sink.null()
	return function() return 1 end
end

function ltn12.source.empty()
	return function() return nil end
end

function ltn12.source.string(s)
	if not s or s == '' then return ltn12.source.empty() end
	local i = 1
	return function()
		if i > #s then return nil end
		local chunk = s:sub(i, i + ltn12.BLOCKSIZE - 1)
		i = i + ltn12.BLOCKSIZE
		return chunk
	end
end

function ltn12.pump.step(source, sink)
	local chunk, err = source()
	local ok, serr = sink(chunk, err)
	if chunk and ok then return 1 end
	return nil, err or serr
end

function ltn12.pump.all(source, sink, step)
	step = step or ltn12.pump.step
	while true do
		local ok, err = step(source, sink)
		if not ok then
			if err then return nil, err end
			return 1
		end
	end
end

return ltn12
