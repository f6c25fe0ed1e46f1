//! A Rust<->Lua switch for callgrind (BENCHMARKS.md, "The LuaJIT bridge"):
//! Rust's `main` resumes a Lua thread that suspends with a number, N
//! times. `cargo run --release -p sockloop-lua --example switch_cg -- N`;
//! Ir per round trip = (Ir(N2) - Ir(N1)) / (N2 - N1).
fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let lua = sockloop_lua::new_lua().expect("a Lua state");
    let f = lua
        .load("local sock = require'sock' return function() while true do sock.suspend(1) end end")
        .eval()
        .expect("the Lua function");
    let t = sockloop_lua::newthread(&lua, f, None).expect("a Lua thread");
    for i in 0..n {
        let v = sockloop::resume(&t, i).expect("a resume");
        std::hint::black_box(v);
    }
}
