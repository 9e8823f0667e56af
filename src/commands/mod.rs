//! commands — (stub; being written)
