//! lang — (stub; being written)
