pub mod config;
pub mod error;
pub mod json;
pub mod time;
pub mod validate;
