//! The only code that talks to the outside world. Each provider implements a port from
//! `engine::ports`.

pub mod aws;
