pub mod joblog;
pub mod store;
