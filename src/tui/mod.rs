//! The console: app loop, pure state/update, keymap, styles and views.
//!
//! Data flows one way: terminal event → keymap → `Action` → `update(&mut State, Msg) ->
//! Vec<Cmd>` → the app loop hands each `Cmd` to the engine → `EngineEvent` → `update` → render.

pub mod app;
pub mod input;
pub mod keymap;
pub mod state;
pub mod styles;
pub mod terminal;
#[cfg(test)]
mod tests;
pub mod view;
