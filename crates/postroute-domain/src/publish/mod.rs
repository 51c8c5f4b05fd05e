//! The publisher's rules: one target's life from claim to settled, what a platform's answer
//! means for it, and the post's status that follows its targets. The store claims and writes,
//! the worker calls the platforms; both ask this module what the next state is.

mod matching;
mod outcome;
mod post_status;
mod target;

pub use matching::{ListedPost, Listing, Sought, matching, normalise};
pub use outcome::{
    Consequence, ErrorClass, Jitter, NextStep, Outcome, RESET_SPREAD, RetryPolicy, Spent, Verdict,
};
pub use post_status::post_status_from_targets;
pub use target::{
    Fence, Finding, RECONCILE_LOOKS, Reconciled, Reported, SEND_MARGIN, TargetError, TargetState,
    lease_outlasts_calls, may_start_call, next_reconcile_look,
};
