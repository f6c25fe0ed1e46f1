-- setopt/getopt (seed: options).
local sock = require'sock'
local s = assert(sock.tcp())
print('reuseaddr', s:setopt('so_reuseaddr', true), s:getopt('so_reuseaddr'))
print('nodelay', s:setopt('tcp_nodelay', true), s:getopt('tcp_nodelay'))
print('nodelay off', s:setopt('tcp_nodelay', false), s:getopt('tcp_nodelay'))
print('type opt', s:getopt('so_type'))
print('unknown', pcall(s.setopt, s, 'so_bogus', 1) == false)
s:close()
