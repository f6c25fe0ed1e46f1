-- sock.lua's FFI declarations, made for the whole Lua state as sock.lua
-- makes them when loaded (so programs may use `ffi.new'sockaddr'`, its
-- methods and the C calls sock.lua declares). Returns the constructor of
-- a `sockaddr` from an address's parts, which the bridge's Rust half uses
-- for the addresses it hands to Lua (`accept`, `recvnext`, `ai.addr`).
local ffi = require'ffi'
local bit = require'bit'

-- Declared once per state (installing the modules again finds them).
if not pcall(ffi.typeof, 'sockaddr') then

-- The real Linux layout: sock.lua's `unsigned long` flowinfo/scope_id
-- put `ip_bytes` 8 bytes too far (see PORTING.md).
ffi.cdef[[
struct sockaddr_in {
	short          family_num;
	uint8_t        port_bytes[2];
	uint8_t        ip_bytes[4];
	char           _zero[8];
};

struct sockaddr_in6 {
	short           family_num;
	uint8_t         port_bytes[2];
	uint32_t        flowinfo;
	uint8_t         ip_bytes[16];
	uint32_t        scope_id;
};

typedef struct sockaddr {
	union {
		struct {
			short   family_num;
			uint8_t port_bytes[2];
		};
		struct sockaddr_in  addr_in;
		struct sockaddr_in6 addr_in6;
	};
} sockaddr;

struct addrinfo {
	int              flags;
	int              family_num;
	int              socktype_num;
	int              protocol_num;
	size_t           addrlen;
	struct sockaddr *addr;
	char            *name_ptr;
	struct addrinfo *next_ptr;
};

int getaddrinfo(const char *node, const char *service,
	const struct addrinfo *hints, struct addrinfo **res);
void freeaddrinfo(struct addrinfo *);
const char *gai_strerror(int ecode);

typedef int SOCKET;
int socket(int af, int type, int protocol);
int accept(int s, struct sockaddr *addr, int *addrlen);
int accept4(int s, struct sockaddr *addr, int *addrlen, int flags);
int close(int s);
int connect(int s, const struct sockaddr *name, int namelen);
int ioctl(int s, long cmd, unsigned long *argp, ...);
int getsockopt(int sockfd, int level, int optname, char *optval, unsigned int *optlen);
int setsockopt(int sockfd, int level, int optname, const char *optval, unsigned int optlen);
int recv(int s, char *buf, int len, int flags);
int recvfrom(int s, char *buf, int len, int flags, struct sockaddr *from, int *fromlen);
int send(int s, const char *buf, int len, int flags);
int sendto(int s, const char *buf, int len, int flags, const struct sockaddr *to, int tolen);
ssize_t read(int fd, void *buf, size_t count);
ssize_t write(int fd, const void *buf, size_t count);
char *strerror(int errnum);
int bind(SOCKET s, const sockaddr*, int namelen);
int listen(SOCKET s, int backlog);
int shutdown(SOCKET s, int how);

typedef union epoll_data {
	void *ptr;
	int fd;
	uint32_t u32;
	uint64_t u64;
} epoll_data_t;

struct epoll_event {
	uint32_t events;
	epoll_data_t data;
};

int epoll_create1(int flags);
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
]]

local AF_INET, AF_INET6, AF_UNIX = 2, 10, 1
local families = {[AF_INET] = 'inet', [AF_INET6] = 'inet6', [AF_UNIX] = 'unix'}
local socket_types = {[1] = 'tcp', [2] = 'udp', [3] = 'raw'}
local protocols = {[0] = 'ip', [1] = 'icmp', [2] = 'igmp', [6] = 'tcp', [17] = 'udp',
	[255] = 'raw', [41] = 'ipv6', [58] = 'icmpv6'}

local sa = {}

function sa:family() return families[self.family_num] end
function sa:port() return self.port_bytes[0] * 0x100 + self.port_bytes[1] end

function sa:addr()
	return self.family_num == AF_INET and self.addr_in
		or self.family_num == AF_INET6 and self.addr_in6
		or error'NYI'
end

-- (sock.lua formats an IPv6 address as IPv4 here; see PORTING.md.)
function sa:tostring()
	local port = self:port()
	return self:addr():tostring() .. (port ~= 0 and ':' .. port or '')
end

ffi.metatype('struct sockaddr', {__index = sa})

local sa_in4 = {}

function sa_in4:tobinary() return self.ip_bytes, 4 end

function sa_in4:tostring()
	local b = self.ip_bytes
	return string.format('%d.%d.%d.%d', b[0], b[1], b[2], b[3])
end

ffi.metatype('struct sockaddr_in', {__index = sa_in4})

local sa_in6 = {}

function sa_in6:tobinary() return self.ip_bytes, 16 end

function sa_in6:tostring()
	local b = self.ip_bytes
	local w = {}
	for i = 0, 7 do w[i + 1] = string.format('%x', b[2 * i] * 0x100 + b[2 * i + 1]) end
	return table.concat(w, ':')
end

ffi.metatype('struct sockaddr_in6', {__index = sa_in6})

-- Methods of a getaddrinfo() result made with the declarations above.
local ai = {}

function ai:free()
	ffi.gc(self, nil)
	ffi.C.freeaddrinfo(self)
end

function ai:next(cur)
	local nxt = cur and cur.next_ptr or self
	return nxt ~= nil and nxt or nil
end

function ai:addrs() return ai.next, self end
function ai:type() return socket_types[self.socktype_num] end
function ai:family() return families[self.family_num] end
function ai:protocol() return protocols[self.protocol_num] end
function ai:name() return self.name_ptr ~= nil and ffi.string(self.name_ptr) or nil end
function ai:tostring() return self.addr:tostring() end

ffi.metatype('struct addrinfo', {__index = ai})

end

-- A `sockaddr` for `family` ('inet', 'inet6', 'unix'), `port` and the
-- address's bytes (4 or 16); and `sa:tostring()`.
local sockaddr_ct = ffi.typeof'sockaddr'
local fams = {inet = 2, inet6 = 10, unix = 1}
local function sockaddr(family, port, ip, scope_id)
	local a = sockaddr_ct()
	a.family_num = fams[family]
	if family == 'inet' then
		ffi.copy(a.addr_in.ip_bytes, ip, 4)
	elseif family == 'inet6' then
		ffi.copy(a.addr_in6.ip_bytes, ip, 16)
		a.addr_in6.scope_id = scope_id or 0
	end
	a.port_bytes[0] = bit.rshift(port, 8)
	a.port_bytes[1] = bit.band(port, 0xff)
	return a
end

return sockaddr, function(a) return a:tostring() end
