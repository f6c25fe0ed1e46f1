//! The runner exports LuaJIT's C API (`lua_*`, `luaL_*`), as the `luajit`
//! executable does, so C modules a program requires from the system's
//! Lua 5.1 directories (`package.cpath`) load into it.

fn main() {
    println!("cargo:rustc-link-arg-bin=sockloop-lua=-Wl,--export-dynamic");
}
