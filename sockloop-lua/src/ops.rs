//! The wait requests with opcodes of their own: the hot calls, carried
//! out by the driver without a boxed future.

#![forbid(unsafe_code)]

use mlua::MultiValue;

/// Carries out the wait request `op` with `operands`: `None` for an
/// unknown opcode.
pub(crate) async fn carry_out(
    _weak: &mlua::WeakLua,
    _op: i64,
    _operands: MultiValue,
) -> Option<mlua::Result<MultiValue>> {
    None
}
