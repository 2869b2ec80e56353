//! CloudFormation through aws-sdk-cloudformation: the only code that talks to CloudFormation.

pub(crate) mod changeset;
pub(crate) mod cloudformation;
pub(crate) mod drift;
pub(crate) mod events;

pub use changeset::means_no_changes;
pub use drift::stack_name_from_arn;
pub use events::{Goal, Settlement, settlement};
