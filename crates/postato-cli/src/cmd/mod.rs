//! One module per subcommand.

pub mod batch;
pub mod completion;
pub mod demo;
pub mod dlq;
pub mod enqueue;
pub mod key;
pub mod publish;
pub mod report;
pub mod sim;
pub mod status;
pub mod worker;
