//! CloudFormation's panes: the stack inventory and detail, the deploy flow (picker, form,
//! change-set review) and the keys on a stack.

pub mod deploy;
pub mod form;
pub(crate) mod form_view;
pub(crate) mod inventory_view;
pub(crate) mod preview_view;
pub mod stack_actions;
pub(crate) mod stack_tabs_view;
