//! LuaSec's `ssl` module (placeholder).
