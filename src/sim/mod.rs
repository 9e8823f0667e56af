//! sim — (stub; being written)
