-- A small HTTP/1.1 client with the call shapes of LuaSocket's
-- socket.http.request, enough for socketloop programs: `http://` URLs,
-- the table form (url, method, headers, source, sink, create) and the
-- string form. The body comes by Content-Length, chunked, or until the
-- server closes. Redirects are not followed; there is no proxy support.
local socket = require'socket'
local ltn12 = require'ltn12'

local http = {TIMEOUT = 60, USERAGENT = socket._VERSION}

-- host, port, path of an http:// URL.
local function parse_url(url)
	local rest = type(url) == 'string' and url:match'^[hH][tT][tT][pP]://(.*)$'
	if not rest then return nil, 'invalid_argument: not an http:// URL: ' .. tostring(url) end
	local authority, path = rest:match'^([^/?#]*)([^#]*)'
	if path == '' then path = '/' end
	if path:sub(1, 1) == '?' then path = '/' .. path end
	authority = authority:gsub('^.*@', '')
	local host, port = authority:match'^%[(.+)%]:?(%d*)$'
	if not host then host, port = authority:match'^([^:]*):?(%d*)$' end
	if not host or host == '' then return nil, 'invalid_argument: no host in ' .. url end
	return host, tonumber(port) or 80, path
end

-- Sends the source's chunks.
local function send_body(c, source)
	while true do
		local chunk, err = source()
		if not chunk then
			if err then return nil, err end
			return 1
		end
		local ok, serr = c:send(chunk)
		if not ok then return nil, serr end
	end
end

-- Reads the body into the sink, then ends the sink with nil.
local function receive_body(c, headers, sink)
	local te = headers['transfer-encoding']
	if te and te:lower() ~= 'identity' then
		while true do
			local line, err = c:receive'*l'
			if not line then return nil, err end
			local size = tonumber(line:match'^%s*(%x+)', 16)
			if not size then return nil, 'invalid chunk size: ' .. line end
			if size == 0 then
				repeat -- the trailer, up to an empty line
					line, err = c:receive'*l'
					if not line then return nil, err end
				until line == ''
				break
			end
			local chunk
			chunk, err = c:receive(size)
			if not chunk then return nil, err end
			sink(chunk)
			line, err = c:receive'*l' -- the CRLF after the chunk
			if not line then return nil, err end
		end
	elseif headers['content-length'] then
		local left = tonumber(headers['content-length'])
		if not left then return nil, 'invalid content-length' end
		while left > 0 do
			local chunk, err = c:receive(math.min(left, ltn12.BLOCKSIZE))
			if not chunk then return nil, err end
			sink(chunk)
			left = left - #chunk
		end
	else
		local body, err = c:receive'*a'
		if not body then return nil, err end
		if #body > 0 then sink(body) end
	end
	sink(nil)
	return 1
end

-- The status line and the headers (names in lower case, repeated ones
-- joined with ", ").
local function receive_head(c)
	local status, err = c:receive'*l'
	if not status then return nil, err end
	local code = tonumber(status:match'^HTTP/%d+%.%d+%s+(%d%d%d)')
	if not code then return nil, 'invalid status line: ' .. status end
	local headers, last = {}, nil
	while true do
		local line
		line, err = c:receive'*l'
		if not line then return nil, err end
		if line == '' then break end
		if line:find'^[ \t]' and last then
			headers[last] = headers[last] .. ' ' .. line:match'^%s*(.-)%s*$'
		else
			local name, value = line:match'^([^:]+):%s*(.-)%s*$'
			if not name then return nil, 'invalid header line: ' .. line end
			name = name:lower()
			headers[name] = headers[name] and headers[name] .. ', ' .. value or value
			last = name
		end
	end
	return code, headers, status
end

local function request(reqt)
	local host, port, path = parse_url(reqt.url)
	if not host then error(port, 2) end
	local c, err = (reqt.create or socket.tcp)()
	if not c then return nil, err end
	local function fail(e)
		c:close()
		return nil, e
	end
	c:settimeout(http.TIMEOUT)
	local ok
	ok, err = c:connect(host, port)
	if not ok then return fail(err) end
	local method = (reqt.method or 'GET'):upper()
	local h = {
		['user-agent'] = http.USERAGENT,
		host = port == 80 and host or host .. ':' .. port,
		connection = 'close, TE',
		te = 'trailers',
	}
	for k, v in pairs(reqt.headers or {}) do h[k:lower()] = v end
	local names = {}
	for k in pairs(h) do names[#names + 1] = k end
	table.sort(names)
	local head = {method .. ' ' .. path .. ' HTTP/1.1'}
	for _, k in ipairs(names) do head[#head + 1] = k .. ': ' .. tostring(h[k]) end
	head[#head + 1] = '\r\n'
	ok, err = c:send(table.concat(head, '\r\n'))
	if not ok then return fail(err) end
	if reqt.source then
		ok, err = send_body(c, reqt.source)
		if not ok then return fail(err) end
	end
	local code, headers, status = receive_head(c)
	if not code then return fail(headers) end
	if method ~= 'HEAD' and code ~= 204 and code ~= 304 and (code < 100 or code >= 200) then
		ok, err = receive_body(c, headers, reqt.sink or ltn12.sink.null())
		if not ok then return fail(err) end
	end
	c:close()
	return 1, code, headers, status
end

-- http.request{url = .., sink = .., ...} -> 1, code, headers, status
-- http.request(url[, body]) -> body, code, headers, status (a POST with a body)
function http.request(reqt, body)
	if type(reqt) ~= 'string' then return request(reqt) end
	local t = {}
	local r = {url = reqt, sink = ltn12.sink.table(t)}
	if body then
		r.method = 'POST'
		r.source = ltn12.source.string(body)
		r.headers = {
			['content-length'] = #body,
			['content-type'] = 'application/x-www-form-urlencoded',
		}
	end
	local ok, code, headers, status = request(r)
	if not ok then return nil, code end
	return table.concat(t), code, headers, status
end

return http
