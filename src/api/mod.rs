//! api — (stub; being written)
