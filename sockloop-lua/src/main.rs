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
            eprintln!("sockloop-lua: {e}");
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
    lua.load(chunk)
        .set_name(format!("@{script}"))
        .call::<()>(mlua::MultiValue::from_iter(
            args.into_iter()
                .map(|a| lua.create_string(a).map(mlua::Value::String))
                .collect::<mlua::Result<Vec<_>>>()?,
        ))
}
