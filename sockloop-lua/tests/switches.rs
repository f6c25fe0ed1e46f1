//! Switches between Lua threads that stay inside LuaJIT (a thread parked
//! in `sock.suspend`, resumed with a plain `coroutine.resume`): what the
//! program and the loop see is what an ordinary resume gives, whatever
//! the resumed thread does while it runs that way (suspends, waits,
//! transfers, returns, raises, is resumed again).

use std::time::Duration;

/// Runs `src` as a main chunk (`sock` required) on a fresh state on its
/// own OS thread, with `current_id()` (the core's current thread's id, or
/// nil); panics with the error's text when it fails.
fn run(src: &'static str) {
    if let Err(e) = run_main(src) {
        panic!("{e}");
    }
}

fn run_main(src: &'static str) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = (|| -> mlua::Result<()> {
            let lua = sockloop_lua::new_lua()?;
            lua.globals().set(
                "current_id",
                lua.create_function(|_, ()| Ok(sockloop::currentthread().map(|t| t.id())))?,
            )?;
            let src = format!("local sock = require'sock'\n{src}");
            let f = lua.load(src).set_name("=switches").into_function()?;
            sockloop_lua::run_main(&lua, f, mlua::MultiValue::new())
        })();
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| Err("did not finish within 30 s".into()))
}

#[test]
fn values_go_both_ways_with_their_count() {
    run(r#"
local co = sock.newthread(function(...)
	assert(select('#', ...) == 2 and select(2, ...) == 'b')
	local n = select('#', sock.suspend())
	assert(n == 0, n)
	local x, y, z = sock.suspend(1, nil, 3)
	assert(x == 'x' and y == nil and z == nil)
	local got = sock.suspend('one')
	sock.suspend(got)
	return 'r1', nil
end)
assert(select('#', sock.resume(co, 'a', 'b')) == 0)
local a, b, c = sock.resume(co)
assert(a == 1 and b == nil and c == 3)
assert(select('#', sock.resume(co, 'x')) == 1)
local t = {}
-- (The same table comes back: Lua values are not converted.)
assert(sock.resume(co, t) == t)
local r1, r2 = sock.resume(co)
assert(r1 == 'r1' and r2 == nil)
local ok, err = pcall(sock.resume, co)
assert(not ok and tostring(err):find('thread_dead'), tostring(err))
"#);
}

#[test]
fn the_loop_sees_the_nested_thread_run() {
    run(r#"
local me = current_id()
local id
local co = sock.newthread(function()
	while true do
		sock.suspend(current_id())
	end
end)
id = sock._handle(co):id()
assert(sock.resume(co) == id)
assert(sock.resume(co) == id, 'the nested thread is the current thread')
assert(current_id() == me, 'the resumer is current again')
"#);
}

#[test]
fn a_thread_running_nested_cannot_be_resumed_again() {
    run(r#"
local co
co = sock.newthread(function()
	sock.suspend()
	local ok, err = pcall(sock.resume, co)
	sock.suspend(ok, err)
end)
sock.resume(co)
local ok, err = sock.resume(co)
assert(ok == false and tostring(err):find('thread_busy'), tostring(err))
"#);
}

#[test]
fn a_wait_while_nested_goes_to_the_threads_driver() {
    run(r#"
local log = {}
local co = sock.newthread(function()
	sock.suspend()
	log[#log + 1] = 'before sleep'
	sock.sleep(0.01)
	log[#log + 1] = 'after sleep'
	local v = sock.suspend('again')
	log[#log + 1] = 'got ' .. v
	return 'end'
end)
sock.resume(co)
-- The sleep parks it: the resume returns nothing, as for any resume.
assert(select('#', sock.resume(co)) == 0)
log[#log + 1] = 'resumer'
sock.thread(function()
	sock.sleep(0.05)
	assert(sock.resume(co, 'v') == 'end')
end)
assert(sock.start())
assert(table.concat(log, ',') == 'before sleep,resumer,after sleep,got v', table.concat(log, ','))
"#);
}

#[test]
fn an_error_while_nested_goes_to_the_resumer() {
    run(r#"
local co = sock.newthread(function()
	sock.suspend()
	error('boom')
end)
sock.resume(co)
local ok, err = pcall(sock.resume, co)
assert(not ok and err:find('boom') and err:find('stack traceback'), err)
local ok2, err2 = pcall(sock.resume, co)
assert(not ok2 and tostring(err2):find('thread_dead'), tostring(err2))
"#);
}

#[test]
fn a_finish_while_nested_runs_the_finish_hooks() {
    run(r#"
local finished
local co = sock.newthread(function()
	sock.suspend()
	return 1, 2
end)
sock.onthreadfinish(co, function(c) finished = c end)
sock.resume(co)
local a, b = sock.resume(co)
assert(a == 1 and b == 2)
assert(finished == co)
"#);
}

#[test]
fn a_transfer_while_nested_follows_the_core() {
    run(r#"
local log = {}
local a, b
b = sock.newthread(function(v)
	log[#log + 1] = 'b got ' .. tostring(v)
	sock.transfer(a, 'from b')
end)
a = sock.newthread(function()
	sock.suspend()
	local v = sock.transfer(b, 'from a')
	log[#log + 1] = 'a got ' .. tostring(v)
	sock.suspend('a done')
end)
sock.resume(a)
assert(sock.resume(a) == 'a done')
assert(table.concat(log, ',') == 'b got from a,a got from b', table.concat(log, ','))
"#);
}

#[test]
fn cowrap_and_yield_still_work() {
    run(r#"
sock.run(function()
	local gen = sock.cowrap(function(n)
		for i = 1, n do sock.yield(i) end
		return 'done'
	end)
	assert(gen(3) == 1 and gen() == 2 and gen() == 3 and gen() == 'done')
end)
"#);
}

#[test]
fn nested_resumes_nest() {
    run(r#"
local inner = sock.newthread(function()
	while true do sock.suspend('inner') end
end)
local outer = sock.newthread(function()
	while true do sock.suspend(sock.resume(inner) .. '+outer') end
end)
sock.resume(inner); sock.resume(outer)
assert(sock.resume(outer) == 'inner+outer')
assert(sock.resume(outer) == 'inner+outer')
"#);
}

#[test]
fn a_thread_parked_in_transfer_is_resumed_the_ordinary_way() {
    run(r#"
local u = sock.newthread(function()
	while true do sock.suspend('from u') end
end)
local t = sock.newthread(function()
	local got = sock.transfer(u)
	sock.suspend('t got ' .. tostring(got))
end)
assert(sock.resume(t) == 'from u')
assert(sock.resume(t, 'back') == 't got back')
"#);
}
