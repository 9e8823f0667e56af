//! render — (stub; being written)
