-- LuaSocket's `socket.url` on sockloop (written for the bridge): parse
-- and build URLs as LuaSocket 3.1 does (RFC 2396's parts: scheme,
-- authority = userinfo@host:port, path;params?query#fragment), resolve
-- relative URLs, split and join paths, escape and unescape.
local socket = require'socket'

local url = {_VERSION = 'URL 1.0.3'}
socket.url = url

local function hex(c, fmt) return string.format(fmt, c:byte()) end

function url.escape(s)
	return (s:gsub('[^%w_]', function(c) return hex(c, '%%%02x') end))
end

function url.unescape(s)
	return (s:gsub('%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end))
end

-- Characters a path segment keeps as they are (besides letters, digits
-- and `_`).
local segment_ok = {}
for c in ("-_.!~*'():@&=+$,"):gmatch'.' do segment_ok[c] = true end

local function protect_segment(s)
	return (s:gsub('[^%w_]', function(c)
		if segment_ok[c] then return c end
		return hex(c, '%%%02X')
	end))
end

-- Splits off the part of `s` from the first `sep` (a plain character)
-- on: returns what comes before and what follows (nil when absent).
local function cut(s, sep)
	local i = s:find(sep, 1, true)
	if not i then return s, nil end
	return s:sub(1, i - 1), s:sub(i + 1)
end

-- `url.parse(u, default)`: a table with the parts present in `u` (over a
-- copy of `default`), or nil and "invalid url" for an empty one.
function url.parse(u, default)
	local parsed = {}
	for k, v in pairs(default or {}) do parsed[k] = v end
	if not u or u == '' then return nil, 'invalid url' end
	local rest = u
	local scheme, after = rest:match'^(%a[%w+.-]*):(.*)$'
	if scheme then parsed.scheme, rest = scheme, after end
	if rest:sub(1, 2) == '//' then
		-- The authority runs to the first '/'; a userinfo may hold '?'
		-- and '#' before its '@', but without an '@' a '?' or '#' ends it.
		local auth = rest:match'^//([^/]*)'
		if not auth:find('@', 1, true) then auth = auth:match'^[^?#]*' end
		parsed.authority = auth
		rest = rest:sub(#auth + 3)
	end
	local frag, query, params
	rest, frag = cut(rest, '#')
	rest, query = cut(rest, '?')
	rest, params = cut(rest, ';')
	parsed.fragment, parsed.query, parsed.params = frag, query, params
	if rest ~= '' then parsed.path = rest end
	local auth = parsed.authority
	if not auth then return parsed end
	local userinfo, hostport = auth:match'^([^@]*)@(.*)$'
	if userinfo then parsed.userinfo = userinfo else hostport = auth end
	local host, port = hostport:match'^(.*):([^:%]]*)$'
	if host then parsed.port = port else host = hostport end
	if host ~= '' then parsed.host = host:match'^%[(.+)%]$' or host end
	if not userinfo then return parsed end
	local user, password = userinfo:match'^(.*):([^:]*)$'
	if user then
		parsed.user, parsed.password = user, password
	else
		parsed.user = userinfo
	end
	return parsed
end

-- `url.build(parsed)`: the URL of a parsed table; `host`, `port`, `user`
-- and `password` take precedence over `userinfo` and `authority`.
function url.build(parsed)
	local out = parsed.path or ''
	if parsed.params then out = out .. ';' .. parsed.params end
	if parsed.query then out = out .. '?' .. parsed.query end
	local authority = parsed.authority
	if parsed.host then
		authority = parsed.host
		if authority:find(':', 1, true) then authority = '[' .. authority .. ']' end
		if parsed.port then authority = authority .. ':' .. tostring(parsed.port) end
		local userinfo = parsed.userinfo
		if parsed.user then
			userinfo = parsed.user
			if parsed.password then userinfo = userinfo .. ':' .. parsed.password end
		end
		if userinfo then authority = userinfo .. '@' .. authority end
	end
	if authority then out = '//' .. authority .. out end
	if parsed.scheme then out = parsed.scheme .. ':' .. out end
	if parsed.fragment then out = out .. '#' .. parsed.fragment end
	return out
end

-- RFC 3986's remove_dot_segments (5.2.4): `.` and `..` segments resolved,
-- empty segments kept.
local function remove_dots(path)
	local input, out = path, {}
	while input ~= '' do
		if input:sub(1, 3) == '../' then
			input = input:sub(4)
		elseif input:sub(1, 2) == './' then
			input = input:sub(3)
		elseif input:sub(1, 3) == '/./' then
			input = input:sub(3)
		elseif input == '/.' then
			input = '/'
		elseif input:sub(1, 4) == '/../' or input == '/..' then
			input = '/' .. input:sub(5)
			out[#out] = nil
		elseif input == '.' or input == '..' then
			input = ''
		else
			local seg = input:match'^/?[^/]*'
			out[#out + 1] = seg
			input = input:sub(#seg + 1)
		end
	end
	return table.concat(out)
end

local function merge(base_path, rel)
	if rel:sub(1, 1) == '/' then return remove_dots(rel) end
	local dir = base_path:gsub('[^/]*$', '')
	if dir:sub(-1) ~= '/' then dir = dir .. '/' end
	return remove_dots(dir .. rel)
end

-- `url.absolute(base, relative)`: `relative` resolved against `base` (a
-- URL or a parsed table). As LuaSocket, dot segments are then removed
-- from the whole result (also from a query or fragment).
function url.absolute(base, relative)
	local base_parsed
	if type(base) == 'table' then
		base_parsed, base = base, url.build(base)
	else
		base_parsed = url.parse(base)
	end
	local rel = url.parse(relative)
	local result
	if not base_parsed then
		result = relative
	elseif not rel then
		result = base
	elseif rel.scheme then
		result = relative
	else
		rel.scheme = base_parsed.scheme
		if not rel.authority then
			rel.authority = base_parsed.authority
			if rel.path then
				rel.path = merge(base_parsed.path or '', rel.path)
			else
				rel.path = base_parsed.path
				if not rel.params then
					rel.params = base_parsed.params
					if not rel.query then rel.query = base_parsed.query end
				end
			end
		end
		result = url.build(rel)
	end
	return remove_dots(result)
end

-- `url.parse_path(path)`: the unescaped segments, with `is_absolute` and
-- `is_directory` (1) for a leading and a trailing '/'.
function url.parse_path(path)
	path = path or ''
	local parsed = {}
	for seg in path:gmatch'[^/]+' do parsed[#parsed + 1] = url.unescape(seg) end
	if path:sub(1, 1) == '/' then parsed.is_absolute = 1 end
	if path:sub(-1) == '/' then parsed.is_directory = 1 end
	return parsed
end

-- `url.build_path(segments, unsafe)`: the path of `parse_path`'s table;
-- segments are escaped unless `unsafe`.
function url.build_path(parsed, unsafe)
	local segs = {}
	for i = 1, #parsed do
		segs[i] = unsafe and parsed[i] or protect_segment(parsed[i])
	end
	local path = table.concat(segs, '/')
	if #segs > 0 and parsed.is_directory then path = path .. '/' end
	if parsed.is_absolute then path = '/' .. path end
	return path
end

return url
