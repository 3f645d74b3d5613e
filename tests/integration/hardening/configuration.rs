//! Configuration trusted only when only root could have written it, any value of any key, output cut short, control characters before a terminal.
