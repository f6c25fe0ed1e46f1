//! The `sockloop-lua` runner: `sockloop-lua script.lua [args]`.

use std::process::Command;
use std::time::{Duration, Instant};

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sockloop-lua"))
}

/// Runs the command, killing it after 60 s.
fn output(mut cmd: Command) -> std::process::Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the runner did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Runs the Lua source `src` as a script file named `name` in a temp
/// directory of its own.
fn run_source(name: &str, src: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!(
        "sockloop-lua-{}-{}",
        name.trim_end_matches(".lua"),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, src).unwrap();
    let mut cmd = runner();
    cmd.arg(&path);
    let out = output(cmd);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// The stdout of a run that must have exited with 0.
fn succeeded(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn runs_the_echo_example_with_args() {
    let mut cmd = runner();
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/echo.lua"))
        .arg("4");
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.pop(), Some("done"));
    lines.sort_unstable();
    assert_eq!(lines, ["hello 1", "hello 2", "hello 3", "hello 4"]);
}

/// socketloop's own example, with a local HTTP server in place of the
/// remote one.
#[test]
fn runs_the_socketloop_example() {
    let mut cmd = runner();
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/socketloop_example.lua"
    ));
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "got 1750 bytes\n");
}

#[test]
fn a_failing_script_exits_1_with_the_error() {
    let dir = std::env::temp_dir().join(format!("sockloop-lua-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("fail.lua");
    std::fs::write(
        &script,
        "local sock = require'sock'\nsock.run(function() error('bad thing') end)\n",
    )
    .unwrap();
    let mut cmd = runner();
    cmd.arg(&script);
    let out = output(cmd);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad thing"), "{stderr}");
}

#[test]
fn no_script_is_a_usage_error() {
    let out = output(runner());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

/// `os.exit(n)` from a timer or a thread of a running loop ends the
/// runner with `n` (it used to abort with SIGABRT: the loop's runtime was
/// shut down from inside its own `block_on` by the exit's TLS destructors).
#[test]
fn os_exit_inside_the_loop_ends_with_its_code() {
    let dir = std::env::temp_dir().join(format!("sockloop-lua-exit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "timer.lua",
            "local sock = require'sock'\n\
             sock.runafter(0.01, function() io.stdout:write('bye\\n'); io.stdout:flush(); os.exit(3) end)\n\
             sock.runafter(30, function() end)\n\
             sock.start()\n\
             os.exit(1)\n",
            3,
        ),
        (
            "thread.lua",
            "local sock = require'sock'\n\
             local s = assert(sock.tcp())\n\
             assert(s:listen('127.0.0.1', 0))\n\
             sock.thread(function() s:accept() end)\n\
             sock.thread(function() sock.sleep(0.01); os.exit(4) end)\n\
             sock.start()\n\
             os.exit(1)\n",
            4,
        ),
    ];
    for (name, src, code) in cases {
        let path = dir.join(name);
        std::fs::write(&path, src).unwrap();
        let mut cmd = runner();
        cmd.arg(&path);
        let out = output(cmd);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every call of `sock` and `socketloop` with pairs of bad arguments
/// (`tests/lua/bad_args.lua`): it raises or returns `nil, err`; nothing
/// panics in Rust or aborts, and the script gets to its end.
#[test]
fn bad_arguments_raise_or_fail_softly() {
    let mut cmd = runner();
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/lua/bad_args.lua"
    ));
    let out = output(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("done"), "{stdout}");
}

/// A port that does not fit is an error, never another port (LuaSocket's
/// C code truncates -0.5 to 0 and wraps 65536 to 0); a huge `maxlen` is no
/// huge allocation; an option duration out of range raises.
#[test]
fn ports_lengths_and_durations_are_checked() {
    let out = run_source(
        "ports.lua",
        r#"local sock = require'sock'
local ffi = require'ffi'
local sl = require'socketloop'
sock.run(function()
	for _, p in ipairs{-0.5, 80.5, 65536, -1, '80x', ' 80', '', 1/0} do
		local ok, err = pcall(sl.connect, '127.0.0.1', p)
		assert(not ok and tostring(err):find('invalid port', 1, true), tostring(p) .. ': ' .. tostring(err))
		ok, err = pcall(sl.tcp, '127.0.0.1', p)
		assert(not ok and tostring(err):find('invalid port', 1, true), tostring(p) .. ': ' .. tostring(err))
	end
	local a = assert(sl.tcp('127.0.0.1', '0'))
	a:close()
	local u = assert(sock.udp())
	assert(u:bind('127.0.0.1', 0))
	local buf = ffi.new'char[16]'
	local n, err = u:recvnext(buf, 2^53, sock.clock() + 0.05)
	assert(n == nil and err == 'timeout', tostring(err))
	local s = assert(sock.tcp())
	local ok, err = pcall(s.setopt, s, 'linger', 1e300)
	assert(not ok and tostring(err):find('out of range', 1, true), tostring(err))
	s:close(); u:close()
	print('ok')
	io.stdout:flush()
	os.exit(0)
end)
"#,
    );
    assert_eq!(succeeded(&out).trim(), "ok");
}

/// The main chunk is a thread of the loop: LuaSocket-style code blocks in
/// it as written (here a server accepting and reading in the main chunk,
/// its client a sock thread running meanwhile), and it is the main
/// thread to the program (`coroutine.running()`).
#[test]
fn luasocket_code_blocks_in_the_main_chunk() {
    let out = run_source(
        "blocking.lua",
        r#"local socket = require'socket'
local sock = require'sock'
assert(select(2, coroutine.running()), 'the main chunk is the main thread')
local server = assert(socket.bind('127.0.0.1', 0))
local _, port = server:getsockname()
sock.thread(function()
	local c = assert(socket.connect('127.0.0.1', port))
	assert(c:send('hello\n'))
	print('client got', c:receive'*l')
	c:close()
end)
local c = assert(server:accept())
print('server got', c:receive'*l')
assert(c:send('world\n'))
print('closed?', c:receive'*l')
c:close()
server:close()
"#,
    );
    assert_eq!(
        succeeded(&out),
        "server got\thello\nclient got\tworld\nclosed?\tnil\tclosed\t\n"
    );
}
