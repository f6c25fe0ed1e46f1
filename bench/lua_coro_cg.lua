-- LuaJIT coroutine cases sized for callgrind (bench/callgrind_sched.sh), the
-- counterparts of benches/sched_cg.rs: run one case COUNT times, once.
--   luajit bench/lua_coro_cg.lua pingpong N   N resume -> yield round trips
--   luajit bench/lua_coro_cg.lua create N     coroutine.create + resume to the end, N times
--   luajit bench/lua_coro_cg.lua sleepers N   N coroutines parked on a timer list: Lua heap bytes each
-- The same operations as ../shared/bench/lua_coro_micro.lua, without its clock.
local case, n = arg[1], tonumber(arg[2])
assert(case and n, "usage: lua_coro_cg.lua CASE COUNT")
local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
if case == "pingpong" then
  local B = create(function(v) while true do v = yield(v + 1) end end)
  local v = 0
  for _ = 1, n do
    local _, r = resume(B, v)
    v = r
  end
  assert(v == n)
elseif case == "create" then
  local f = function(x) return x end
  for i = 1, n do
    local co = create(f)
    resume(co, i)
  end
elseif case == "sleepers" then
  collectgarbage(); collectgarbage()
  local before = collectgarbage("count")
  local list = {}
  local body = function() list[#list + 1] = {coroutine.running(), 3600}; yield() end
  for _ = 1, n do
    local co = create(body)
    resume(co)
  end
  collectgarbage(); collectgarbage()
  print(string.format("heap_bytes_per_thread %.1f", (collectgarbage("count") - before) * 1024 / n))
else
  error("unknown case " .. case)
end
