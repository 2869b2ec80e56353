//! The console's shell: app loop, pure state/update, the confirmation dialog, the Jobs pane,
//! styles and views (the Chat pane is the assistant's, in `assistant::tui`). Each capability's panes live in its own folder.
//!
//! Data flows one way: terminal event → registry → `Action` → `update(&mut State, Msg) ->
//! Vec<Cmd>` → the app loop hands each `Cmd` to the engine → `EngineEvent` → `update` → render.

pub mod app;
pub mod dialog;
pub mod form;
pub mod input;
pub mod jobs;
pub mod shell;
pub mod state;
pub mod styles;
pub mod terminal;
#[cfg(test)]
mod tests;
pub mod view;
