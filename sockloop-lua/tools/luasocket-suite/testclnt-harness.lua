-- Runs LuaSocket's test/testclnt.lua with each test invocation in its own
-- pcall, and counts them: a failing test no longer ends the run (upstream's
-- `fail` calls os.exit), so one run gives the whole tally.
--
--   cd luasocket/test && <lua> /path/to/testclnt-harness.lua [port]
--
-- Works with any `socket` module: real LuaSocket (built with DEBUG=DEBUG, so
-- that socket._DEBUG exists and send/receive return the elapsed time) or
-- the sockloop-lua runner (run with LUASOCKET_DEBUG=1 for the same).
-- Prints one line per invocation and the tally `passed N of M` last; exits
-- with status 0 when all passed, 1 otherwise.

local tests = {
	"test_methods", "test_closed", "test_partialrecv", "test_selectbugs",
	"test_readafterclose", "test_writeafterclose", "connect_timeout",
	"empty_connect", "connect_errors", "rebind_test", "active_close",
	"accept_timeout", "accept_errors", "getstats_test", "test_asciiline",
	"test_mixed", "test_rawline", "test_raw", "test_nonblocking",
	"test_totaltimeoutsend", "test_totaltimeoutreceive",
	"test_blockingtimeoutsend", "test_blockingtimeoutreceive",
}
local is_test = {}
for _, name in ipairs(tests) do is_test[name] = true end

local results = {}
local depth = 0

-- A failed check raises instead of ending the process.
local function raising_fail(...)
	error("ERROR: " .. string.format(...), 0)
end

local function describe(name, ...)
	local args = {}
	for i = 1, select("#", ...) do
		local v = select(i, ...)
		args[#args + 1] = type(v) == "number" and tostring(v) or type(v)
	end
	return name .. "(" .. table.concat(args, ", ") .. ")"
end

local function wrap(name, f)
	return function(...)
		-- A test that calls another test counts once.
		if depth > 0 then return f(...) end
		depth = depth + 1
		local what = describe(name, ...)
		local ok, err = pcall(f, ...)
		depth = depth - 1
		results[#results + 1] = {what = what, ok = ok, err = err}
		io.stderr:write(ok and "PASS " or "FAIL ", what,
			ok and "" or (": " .. tostring(err)), "\n")
		io.stderr:flush()
	end
end

setmetatable(_G, {__newindex = function(t, k, v)
	if k == "fail" and type(v) == "function" then
		v = raising_fail
	elseif is_test[k] and type(v) == "function" then
		v = wrap(k, v)
	end
	rawset(t, k, v)
end})

port = arg and arg[1] or port
-- loadfile, not dofile: a call may yield (under sockloop-lua), and
-- LuaJIT cannot yield across dofile.
local ok, err = pcall(assert(loadfile("testclnt.lua")))
setmetatable(_G, nil)
if not ok then
	io.stderr:write("testclnt.lua stopped: ", tostring(err), "\n")
end

local passed = 0
for _, r in ipairs(results) do
	if r.ok then passed = passed + 1 end
end
print(string.format("passed %d of %d", passed, #results))
for _, r in ipairs(results) do
	if not r.ok then print("failed: " .. r.what .. ": " .. tostring(r.err)) end
end
os.exit(ok and passed == #results and 0 or 1)
