//! CloudFormation domain logic that needs no network: templates and their parameters.

pub mod retained;
pub mod template;
