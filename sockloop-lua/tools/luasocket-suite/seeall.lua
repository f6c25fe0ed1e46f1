-- Runs a script whose modules call module(name) without package.seeall
-- (LuaSocket's samples/dispatch.lua): they get the globals they use.
local real_module = module
function module(name, ...) return real_module(name, package.seeall, ...) end
local script = table.remove(arg, 1)
arg[0] = script
assert(loadfile(script))(unpack(arg))
