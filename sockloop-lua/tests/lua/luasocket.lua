-- LuaSocket's face under the bridge: what a `require'socket'` program
-- sees (return values, their types, error words, classes, timeouts,
-- options, UDP, select, dns, try/protect, sinks and sources). Only
-- LuaSocket's API, in one thread (non-blocking where two ends must move
-- at once), so the same script runs on real LuaSocket: luasocket.out is
-- its output there (LuaJIT 2.1 + LuaSocket 3.1.0), but for one line
-- each of `getsockname` and `udp getsockname`: 3.1.0 gives the port as a
-- string there (a bug LuaSocket fixed after the release, PORTING.md), the
-- bridge as a number, as getpeername does.
local socket = require'socket'
local ltn12 = require'ltn12'

local function types(...)
	local t = {}
	for i = 1, select('#', ...) do t[i] = type((select(i, ...))) end
	return table.concat(t, ' ')
end

-- A connected pair: the client, the server's side, the server.
local function pair()
	local server = assert(socket.bind('127.0.0.1', 0))
	local ip, port = server:getsockname()
	local c = assert(socket.connect(ip, port))
	local s = assert(server:accept())
	return c, s, server
end

-- ===== objects =====
local t = socket.tcp()
print('tcp()', type(t), t.class, t:getfd(), t:getfamily())
print('tostring', tostring(t):match'^[^:]*')
local tcp_methods = {'accept', 'bind', 'close', 'connect', 'dirty', 'getfamily',
	'getfd', 'getoption', 'getpeername', 'getsockname', 'getstats', 'setstats',
	'listen', 'receive', 'send', 'setfd', 'setoption', 'setpeername',
	'setsockname', 'settimeout', 'gettimeout', 'shutdown'}
local missing = {}
for _, m in ipairs(tcp_methods) do
	if type(t[m]) ~= 'function' then missing[#missing + 1] = m end
end
print('tcp methods missing', #missing)
local t4 = socket.tcp4()
print('tcp4()', t4.class, t4:getfd() >= 0, t4:getfamily())
print('close', t4:close(), t4:close(), t4:getfd())
local t6 = socket.tcp6()
if t6 then
	print('tcp6()', t6.class, t6:getfamily())
	t6:close()
end
print('bind on tcp()', t:bind('127.0.0.1', 0), t.class, t:getfd() >= 0, t:getfamily())
print('listen', t:listen(), t.class)
local ip, port, fam = t:getsockname()
print('getsockname', ip, type(port), fam)
t:close()

-- ===== a connection =====
local c, s, server = pair()
print('classes', server.class, c.class, s.class)
print('peer', select(3, c:getpeername()), type((select(2, c:getpeername()))))
print('send', c:send('hello\r\nworld\nxyz'))
print('send range', c:send('0123456789', 3, 5))
print('send types', types(c:send('!')))
print('receive *l', s:receive())
print('receive *l', s:receive('*l'))
print('receive n', s:receive(3))
print('receive prefix', s:receive(4, 'ab'))
print('receive prefix long enough', s:receive(2, 'abc'))
print('receive rest', s:receive(2))
print('dirty', s:dirty(), c:dirty())
local r, sent, age = c:getstats()
print('getstats', r, sent, type(age))
print('setstats', c:setstats(10, 20, 0), (c:getstats()))
s:settimeout(0.05)
print('receive timeout', s:receive())
print('receive timeout prefix', s:receive(5, 'pre'))
print('gettimeout', s:gettimeout())
print('settimeout modes', s:settimeout(1, 'block'), s:settimeout(2, 'total'),
	s:settimeout(3, 'r'))
print('gettimeout', s:gettimeout())
local ok, err = pcall(s.settimeout, s, 1, 'x')
print('settimeout x', ok, (tostring(err):match'invalid timeout mode'))
ok, err = pcall(s.receive, s, '*x')
print('receive *x', ok, (tostring(err):match'invalid receive pattern'))
s:settimeout(-1)
print('receive after data and close', c:send('last words'), c:close())
print('', s:receive())
print('receive *a closed', s:receive('*a'))
print('receive n closed', s:receive(1))
print('getfd closed', c:getfd(), c:close())
print('receive closed', c:receive())
print('receive 0 closed', c:receive(0))
print('send closed', c:send('x'))
s:close()

c, s = pair()
print('*a data then close', c:send('all of it'), c:close())
print('', s:receive('*a'))
print('', s:receive('*a'))
s:close()

c, s = pair()
s:close()
local n, e, last = nil, nil, nil
for _ = 1, 100 do
	n, e, last = c:send(string.rep('x', 100000))
	if not n then break end
end
print('send after peer close', n, e, type(last))
c:close()

c, s = pair()
print('shutdown', c:shutdown('send'), s:receive('*a'))
ok, err = pcall(c.shutdown, c, 'sideways')
print('shutdown bad', ok)
c:close(); s:close()

-- ===== a line of 8 MB, both ends moving at once =====
c, s = pair()
c:settimeout(0); s:settimeout(0)
local big = string.rep('x', 8 * 1024 * 1024) .. '\n'
local done, partial, line = 0, '', nil
while not line do
	if done < #big then
		local k, err2, last2 = c:send(big, done + 1)
		done = k or last2
	end
	local l, err3, part = s:receive('*l', partial)
	if l then line = l else partial = part end
end
print('8 MB line', #line)
c:close(); s:close()

-- ===== options =====
c, s = pair()
print('tcp-nodelay', c:getoption('tcp-nodelay'), c:setoption('tcp-nodelay', true),
	c:getoption('tcp-nodelay'))
print('keepalive', c:setoption('keepalive', true), c:getoption('keepalive'))
print('reuseaddr', c:getoption('reuseaddr'))
print('recv-buffer-size', type(c:getoption('recv-buffer-size')))
local l = c:getoption('linger')
print('linger', type(l), l.on, l.timeout)
print('linger on', c:setoption('linger', {on = true, timeout = 5}))
l = c:getoption('linger')
print('linger', l.on, l.timeout)
print('linger off', c:setoption('linger', {on = false, timeout = 0}), c:getoption('linger').on)
print('error', c:getoption('error'))
ok, err = pcall(c.setoption, c, 'no-such-option', 1)
print('unsupported', ok, (tostring(err):match'unsupported option'))
ok, err = pcall(c.setoption, c, 'linger', 5)
print('linger not a table', ok)
c:close(); s:close()
print('setoption no socket', socket.tcp():setoption('reuseaddr', true))

-- ===== errors =====
local probe = assert(socket.bind('127.0.0.1', 0))
local _, free = probe:getsockname()
probe:close()
print('connect refused', socket.connect('127.0.0.1', free))
local refused = socket.tcp()
print('connect method refused', refused:connect('127.0.0.1', free))
print('class after failed connect', refused.class)
server:close()
server = assert(socket.bind('127.0.0.1', 0))
local sip, sport = server:getsockname()
local again = socket.tcp()
again:setoption('reuseaddr', false)
print('bind in use', again:bind(sip, sport))
local acc = assert(socket.bind('127.0.0.1', 0))
acc:settimeout(0.01)
print('accept timeout', acc:accept())
acc:close()

-- ===== UDP =====
local u = socket.udp()
print('udp()', type(u), u.class, u:getfd(), u:getfamily())
print('setsockname', u:setsockname('127.0.0.1', 0), u:getfd() >= 0)
local uip, uport, ufam = u:getsockname()
print('udp getsockname', uip, type(uport), ufam)
local v = socket.udp4()
print('sendto', v:sendto('datagram', uip, uport))
local d, fip, fport = u:receivefrom()
print('receivefrom', d, fip, type(fport))
print('setpeername', v:setpeername(uip, uport), v.class)
print('udp send', v:send('connected'))
print('udp receive', u:receive())
ok = pcall(v.sendto, v, 'x', uip, uport)
print('sendto connected', ok)
ok = pcall(u.getpeername, u)
print('getpeername unconnected', ok)
print('getpeername', select(3, v:getpeername()))
print('unconnect', v:setpeername('*'), v.class)
u:settimeout(0.02)
print('udp timeout', u:receive())
print('udp gettimeout', u:gettimeout())
print('udp close', u:close(), u:getfd())
v:close()
local u6 = socket.udp6()
if u6 then print('udp6()', u6.class, u6:getfamily()); u6:close() end

-- ===== select =====
c, s = pair()
print('_SETSIZE', type(socket._SETSIZE))
local rt, wt, err4 = socket.select({s}, nil, 0.02)
print('select nothing', #rt, #wt, err4)
c:send('ping\n')
rt, wt = socket.select({s, server}, {c}, 1)
print('select', #rt, rt[1] == s, rt[s], #wt, wt[1] == c, wt[c])
s:receive(2)
rt = socket.select({s}, nil, 0)
print('select dirty', #rt, s:dirty())
s:receive()
local closed_udp = socket.udp()
closed_udp:close()
rt, wt, err4 = socket.select({closed_udp}, {closed_udp}, 0.01)
print('select closed', #rt, #wt, err4)
print('select bad', pcall(socket.select, 'wrong', nil, 0.01) == false,
	pcall(socket.select, {}, 1, 0.01) == false)
-- an object that answers getfd/dirty for a socket
local sink = socket.sink('keep-open', s)
c:send('x')
rt = socket.select({sink}, nil, 1)
print('select sink', #rt, rt[1] == sink)
s:receive(1)
c:close(); s:close()

-- ===== dns =====
local dip, resolved = socket.dns.toip('127.0.0.1')
print('toip', dip, type(resolved), resolved.ip[1])
local list = socket.dns.getaddrinfo('127.0.0.1')
print('getaddrinfo', #list, list[1].family, list[1].addr)
print('gethostname', type(socket.dns.gethostname()))

-- ===== try, protect, skip =====
print('skip', socket.skip(1, 'a', 'b', 'c'))
local finalized = false
local f = socket.protect(function(x)
	local try = socket.newtry(function() finalized = true end)
	try(x, 'try failed')
	return 'fine'
end)
print('protect ok', f(true), finalized)
print('protect err', f(false), finalized)
print('protect raise', pcall(socket.protect(function() error('real error', 0) end)))
local ok2, thrown = pcall(socket.try, nil, 'oops')
print('try', ok2, type(thrown), thrown[1])
print('gettime', type(socket.gettime()), socket.gettime() > 1e9)
print('sleep', socket.sleep(0.01))

-- ===== sinks and sources =====
c, s = pair()
local src = ltn12.source.string('chunked ' .. string.rep('data', 1000))
print('pump to socket', ltn12.pump.all(src, socket.sink('close-when-done', c)))
local got = {}
print('pump from socket', ltn12.pump.all(socket.source('until-closed', s),
	(ltn12.sink.table(got))))
print('received', #table.concat(got))
c, s = pair()
c:send('0123456789')
got = {}
print('by-length', ltn12.pump.all(socket.source('by-length', s, 7),
	(ltn12.sink.table(got))), table.concat(got))
c:close(); s:close()
server:close()

-- ===== more error words (the OS text where LuaSocket gives it) =====
print('bind not local', socket.tcp4():bind('10.255.255.1', 0))
print('socket.bind not local', socket.bind('10.255.255.1', 0))
print('sendto a name', socket.udp4():sendto('x', 'not-an-ip', 80))
print('getsockname no socket', socket.tcp():getsockname())
print('getpeername unconnected', socket.tcp4():getpeername())
print('done')
