//! CloudFormation domain logic that needs no network: the bundled template library, templates
//! and their parameters, and turning entered values into a change set's parameters.

pub mod deploy;
pub mod library;
pub mod retained;
pub mod template;
