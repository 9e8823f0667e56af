//! inventory — (stub; being written)
