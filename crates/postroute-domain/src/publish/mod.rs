//! The publisher's rules: one target's life from claim to settled, what a platform's answer
//! means for it, and the post's status that follows its targets. The store claims and writes,
//! the worker calls the platforms; both ask this module what the next state is.

mod outcome;

pub use outcome::{
    Consequence, ErrorClass, Jitter, NextStep, Outcome, RESET_SPREAD, RetryPolicy, Spent, Verdict,
};
