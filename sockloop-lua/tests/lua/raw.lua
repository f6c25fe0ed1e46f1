-- Raw sockets (seed: sockets, `sock.raw`): an ICMP echo to 127.0.0.1.
-- Needs root or CAP_NET_RAW; without it `sock.raw` is `nil, err` and the
-- test compares with raw.noperm.out instead.
local sock = require'sock'
local ffi = require'ffi'
local bit = require'bit'

local s, err = sock.raw('inet', 'icmp')
if not s then print('raw', s, err) return end
print('raw', s:type(), s:family(), s:protocol(), type(s.s) == 'number')

-- An ICMP echo request: type 8, code 0, checksum, id, sequence, payload.
local function echo_request(id, seq, payload)
	local p = string.char(8, 0, 0, 0, bit.rshift(id, 8), bit.band(id, 0xff),
		bit.rshift(seq, 8), bit.band(seq, 0xff)) .. payload
	if #p % 2 == 1 then p = p .. '\0' end
	local sum = 0
	for i = 1, #p, 2 do sum = sum + p:byte(i) * 256 + p:byte(i + 1) end
	while sum > 0xffff do sum = bit.band(sum, 0xffff) + bit.rshift(sum, 16) end
	sum = bit.band(bit.bnot(sum), 0xffff)
	return p:sub(1, 2) .. string.char(bit.rshift(sum, 8), bit.band(sum, 0xff)) .. p:sub(5)
end

-- The next echo reply (type 0) with this id: its sequence and payload.
-- Requests loop back to the socket too; they are skipped.
local function next_reply(recv, id)
	local buf = ffi.new'char[1500]'
	while true do
		local n, sa = recv(buf, 1500)
		if not n then return nil, sa end
		local p = ffi.cast('uint8_t*', buf)
		local ihl = bit.band(p[0], 0xf) * 4 -- IPv4: the IP header comes first
		if p[ihl] == 0 and p[ihl + 4] * 256 + p[ihl + 5] == id then
			return p[ihl + 6] * 256 + p[ihl + 7], ffi.string(buf + ihl + 8, n - ihl - 8), sa
		end
	end
end

sock.run(function()
	local id = 0x5a17
	print('sendto', s:sendto('127.0.0.1', 0, echo_request(id, 1, 'sockloop')))
	local seq, data, sa = next_reply(function(buf, n)
		return s:recvnext(buf, n, sock.clock() + 5)
	end, id)
	print('reply', seq, data, sa and sa:addr():tostring())
	print('connect', s:connect('127.0.0.1', 0))
	print('send', s:send(echo_request(id, 2, 'again')))
	print('reply', (next_reply(function(buf, n) return s:recv(buf, n, sock.clock() + 5) end, id)))
	print('close', s:close())
end)
