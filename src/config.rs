//! config — (stub; being written)
