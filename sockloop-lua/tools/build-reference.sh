#!/usr/bin/env bash
# Builds the reference the bridge's Lua tests are compared against: the
# real luapower sock.lua on LuaJIT 2.1 built with LUAJIT_ENABLE_LUA52COMPAT
# (as luapower builds it), and LuaSocket's socketloop for good measure.
#
#   sockloop-lua/tools/build-reference.sh [REF_DIR]        (default /work/ref)
#
# LuaJIT is built once (FORCE=1 rebuilds it); the Lua modules and the
# wrapper are rewritten on every run.
#
# Inputs (nothing is downloaded here):
# * LuaJIT's sources from the `luajit-src` crate in the cargo cache
#   (~/.cargo/registry/src/*/luajit-src-*/luajit2; LUAJIT_SRC overrides);
# * git mirrors of luapower's sock, glue, coro, heap, time and socketloop
#   under MIRRORS (default /work/.mirror, one `luapower+NAME/repo` each, as
#   the project's fetch tool lays them out); their files are read with
#   `git show` and copied into REF_DIR/lua (they are not part of this repo).
#
# Outputs:
# * REF_DIR/luajit        the LuaJIT build tree
# * REF_DIR/prefix        bin/luajit, lib/libluajit.a, include, the jit.* modules
# * REF_DIR/lua           sock.lua and the modules it requires
# * REF_DIR/bin/luajit-ref  luajit with LUA_PATH set to REF_DIR/lua
#
# Running a test script on the reference:
#   /work/ref/bin/luajit-ref sockloop-lua/tests/lua/errors.lua
set -euo pipefail

REF=${1:-/work/ref}
MIRRORS=${MIRRORS:-/work/.mirror}
if [[ -z "${LUAJIT_SRC:-}" ]]; then
    LUAJIT_SRC=$(ls -d "$HOME"/.cargo/registry/src/*/luajit-src-*/luajit2 2>/dev/null | sort | tail -n 1)
fi
[[ -n "$LUAJIT_SRC" && -f "$LUAJIT_SRC/Makefile" ]] || {
    echo "no LuaJIT sources (set LUAJIT_SRC to a luajit2 source tree)" >&2
    exit 1
}

mkdir -p "$REF"
REF=$(cd "$REF" && pwd)

if [[ -x "$REF/prefix/bin/luajit" && -z "${FORCE:-}" ]]; then
    echo "== LuaJIT already built in $REF/prefix (FORCE=1 rebuilds it)"
else
    echo "== LuaJIT from $LUAJIT_SRC"
    rm -rf "$REF/luajit" "$REF/prefix"
    cp -r "$LUAJIT_SRC" "$REF/luajit"
    # The crate keeps the release number beside the tree (no git history).
    relver="$(dirname "$LUAJIT_SRC")/luajit_relver.txt"
    [[ -f "$relver" ]] && cp "$relver" "$REF/luajit/.relver"
    make -C "$REF/luajit" -j"$(nproc)" XCFLAGS=-DLUAJIT_ENABLE_LUA52COMPAT >/dev/null
    # The crate's tree has no etc/ (man page, .pc file) for `make install`:
    # install what running scripts needs by hand.
    mkdir -p "$REF/prefix/bin" "$REF/prefix/lib" "$REF/prefix/include/luajit-2.1" \
        "$REF/prefix/share/luajit-2.1/jit"
    cp "$REF/luajit/src/luajit" "$REF/prefix/bin/luajit"
    cp "$REF/luajit/src/libluajit.a" "$REF/prefix/lib/"
    cp "$REF/luajit/src/"{lua.h,lualib.h,lauxlib.h,luaconf.h,lua.hpp,luajit.h} "$REF/prefix/include/luajit-2.1/"
    cp "$REF/luajit/src/jit/"*.lua "$REF/prefix/share/luajit-2.1/jit/"
fi

echo "== Lua modules from $MIRRORS"
mkdir -p "$REF/lua"
module() { # repo file
    local git="$MIRRORS/luapower+$1/repo"
    [[ -d "$git/.git" ]] && git="$git/.git"
    git --git-dir="$git" show "HEAD:$2" >"$REF/lua/$2"
}
module sock sock.lua
module sock sock_test.lua
module glue glue.lua
module coro coro.lua
module heap heap.lua
module time time.lua
module socketloop socketloop.lua

mkdir -p "$REF/bin"
# The system's Lua 5.1 directories come after luapower's modules: LuaSocket
# (Debian's lua-socket) for socketloop, as luajit finds it there too.
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
cat >"$REF/bin/luajit-ref" <<WRAP
#!/bin/sh
# The reference LuaJIT with luapower's modules first on the path.
LUA_PATH="$REF/lua/?.lua;$REF/prefix/share/luajit-2.1/?.lua;/usr/local/share/lua/5.1/?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;\${LUA_PATH:-;}" \\
LUA_CPATH="/usr/local/lib/lua/5.1/?.so;/usr/lib/$multiarch/lua/5.1/?.so;/usr/lib/lua/5.1/?.so;\${LUA_CPATH:-;}" \\
exec "$REF/prefix/bin/luajit" "\$@"
WRAP
chmod +x "$REF/bin/luajit-ref"

echo "== check"
"$REF/bin/luajit-ref" -e "
    assert(require'ffi'.abi'win' == false)
    assert(load ~= loadstring or true)
    local sock = require'sock'
    assert(type(sock.tcp) == 'function')
    -- LUA52COMPAT: goto and the 5.2 library additions
    assert(table.pack and select('#', table.unpack{1, 2}) == 2, 'no 5.2 compat')
    print('reference ready: ' .. jit.version)
"
