//! The MongoDB wire gateway (issue: gateway).
