//! `sockloop-lua script.lua [args]`: runs a Lua program on sockloop, with
//! `require'sock'` served by sockloop and the LuaJIT `ffi` module
//! available. `arg` is set as by the `luajit` command.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(script) = args.next() else {
        eprintln!("usage: sockloop-lua script.lua [args]");
        return ExitCode::from(2);
    };
    match run(&script, args.collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // As luajit: the message and its Lua traceback.
            let text = match &e {
                mlua::Error::RuntimeError(m) => m.clone(),
                other => other.to_string(),
            };
            eprintln!("sockloop-lua: {text}");
            ExitCode::FAILURE
        }
    }
}

fn run(script: &str, args: Vec<String>) -> mlua::Result<()> {
    let lua = sockloop_lua::new_lua()?;
    let arg = lua.create_table()?;
    arg.set(0, script)?;
    for (i, a) in args.iter().enumerate() {
        arg.set(i + 1, a.as_str())?;
    }
    lua.globals().set("arg", arg)?;
    let chunk = std::fs::read(script).map_err(mlua::Error::external)?;
    let f = lua
        .load(chunk)
        .set_name(format!("@{script}"))
        .into_function()?;
    let args = args
        .into_iter()
        .map(|a| lua.create_string(a).map(mlua::Value::String))
        .collect::<mlua::Result<mlua::MultiValue>>()?;
    // The main chunk runs as the loop's main thread (LuaSocket code blocks
    // in it as written).
    sockloop_lua::run_main(&lua, f, args)
}
