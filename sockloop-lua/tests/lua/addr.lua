-- sock.addr: look-up, ai/sa/ip methods (seed: address lookup).
local sock = require'sock'
local ffi = require'ffi'

local ai = assert(sock.addr('127.0.0.1', 8080, 'tcp', 'inet'))
print('type', ai:type(), 'family', ai:family(), 'protocol', ai:protocol())
print('tostring', ai:tostring())
local sa = ai.addr
print('sa', sa:family(), sa:port(), sa:tostring())
local ip = sa:addr()
local b, n = ip:tobinary()
print('ip', ip:tostring(), n, b[0], b[1], b[2], b[3], type(b))
print('next', ai:next())
local k = 0
for a in ai:addrs() do k = k + 1 end
print('addrs', k)
print('passthrough', sock.addr(ai) == ai)

local ai6 = assert(sock.addr('::1', 'http', 'tcp', 'inet6'))
print('v6', ai6:tostring(), ai6.addr:port(), select(2, ai6.addr:addr():tobinary()))

-- A resolved ai goes where host, port go.
local l = assert(sock.tcp())
assert(l:listen(sock.addr('127.0.0.1', 0, 'tcp', 'inet')))
print('listen on ai', l:local_addr():addr():tostring(), l:local_addr():port() > 0)
l:close()

-- Soft and hard errors.
print('bad ip', sock.addr('300.1.1.1', 80, 'tcp', 'inet', nil, 'numerichost'))
print('bad type', pcall(sock.addr, '127.0.0.1', 80, 'bogus') == false)
