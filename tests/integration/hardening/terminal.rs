//! Control characters never reach a terminal raw, and every verb survives its output being cut short.
