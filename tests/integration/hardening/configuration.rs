//! Configuration trusted only when only root could have written it, and any value of any key.
