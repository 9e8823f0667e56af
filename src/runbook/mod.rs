//! Runbooks and declarative guests. `definitions`: a guests file (`guests.yaml`) with its
//! plan against the live cluster, and cluster profiles (named groups of its guests).

pub mod definitions;
