//! The background queues, each a loop over rows of the store that any instance
//! may claim: the order [`worker`] (submit, query, back-off, circuit breaker),
//! signed status [`webhooks`] to the merchant, re-[`delivery`] of invoices, the
//! compliance [`archive`] of invoice files, and [`reconcile`]iation with the
//! provider's invoices.

pub mod archive;
pub mod delivery;
pub mod reconcile;
pub mod webhooks;
pub mod worker;
